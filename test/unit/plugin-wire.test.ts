/** The plugin's wire translation: secret envelopes, import ids, and the inputs an import records. */
import { InvalidInput } from "../../provider/src/model/errors";
import { inputsFromObserved, propsFromId } from "../../provider/src/adapters/pulumi/resource";
import { unwrapSecrets, wrapSecrets } from "../../provider/src/adapters/plugin/provider";

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

it("unwraps top-level secrets and wraps the same keys back, leaving the others plain", () => {
  const { plain, secret } = unwrapSecrets({ container: "web", from: { [SIG]: SECRET, value: "dir:/x" } });
  expect(plain).toEqual({ container: "web", from: "dir:/x" });
  expect([...secret]).toEqual(["from"]);
  expect(wrapSecrets({ container: "web", from: "dir:/x", usedBytes: 1 }, secret)).toEqual({
    container: "web",
    from: { [SIG]: SECRET, value: "dir:/x" },
    usedBytes: 1,
  });
});

it("opens secrets nested in a value, and wraps the whole top-level value back", () => {
  const wire = {
    container: "web",
    connection: { host: "h", privateKey: { [SIG]: SECRET, value: "KEY" }, proxy: { password: { [SIG]: SECRET, value: "pw" } } },
    tags: [{ [SIG]: SECRET, value: "t" }],
  };
  const { plain, secret } = unwrapSecrets(wire);
  expect(plain).toEqual({ container: "web", connection: { host: "h", privateKey: "KEY", proxy: { password: "pw" } }, tags: ["t"] });
  expect([...secret].sort()).toEqual(["connection", "tags"]);
  const back = wrapSecrets(plain, secret);
  expect(back.connection).toEqual({ [SIG]: SECRET, value: plain.connection });
  expect(back.container).toBe("web");
});

it.each([
  ["/var/lib/lxc/web", { container: "web", lxcPath: "/var/lib/lxc" }],
  ["/var/lib/lxc/web/", { container: "web", lxcPath: "/var/lib/lxc" }],
])("import id %s names the container directory", (id, props) => {
  expect(propsFromId(id)).toEqual(props);
});

it.each(["web", "../etc", "/var/lib/lxc/../../etc", "/", ""])("import id %j is refused naming id", (id) => {
  expect(() => propsFromId(id)).toThrow(InvalidInput);
  expect(() => propsFromId(id)).toThrow(/^id: invalid value/);
});

it("records size and fstype only for block stores, in whole sectors", () => {
  expect(
    inputsFromObserved({ container: "c", lxcPath: "/l", backingStore: "loop", sizeBytes: 64 * 2 ** 20 + 1, fstype: "ext4", usedBytes: 1 }),
  ).toEqual({
    container: "c",
    lxcPath: "/l",
    backingStore: "loop",
    size: 64 * 2 ** 20,
    fstype: "ext4",
  });
  expect(inputsFromObserved({ container: "c", lxcPath: "/l", backingStore: "dir", sizeBytes: null, fstype: null })).toEqual({
    container: "c",
    lxcPath: "/l",
    backingStore: "dir",
  });
});
