/** The `connection` input, checked before anything dials: @pulumi/command's shape and defaults; errors never show a credential. */
import { InvalidInput } from "../../provider/src/model/errors";
import { machineOf, validateConnection } from "../../provider/src/adapters/remote/connection";
import { ed25519KeyPair } from "../helpers/env";

const refused = (raw: unknown): InvalidInput => {
  try {
    validateConnection(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInput);
    return e as InvalidInput;
  }
  throw new Error("accepted");
};

const KEY = ed25519KeyPair().private;
const ENCRYPTED = ed25519KeyPair({ passphrase: "sesame", cipher: "aes256-ctr", rounds: 4 }).private;

it("takes @pulumi/command's defaults", () => {
  expect(validateConnection({ host: "10.0.0.5", privateKey: KEY })).toEqual({
    host: "10.0.0.5",
    port: 22,
    user: "root",
    dialErrorLimit: 10,
    perDialTimeout: 15,
    privateKey: KEY,
  });
});

it("takes @pulumi/command's values for no limit: -1 dials, 0 seconds", () => {
  expect(validateConnection({ host: "web", dialErrorLimit: -1, perDialTimeout: 0 })).toMatchObject({
    dialErrorLimit: -1,
    perDialTimeout: 0,
  });
  expect(refused({ host: "web", dialErrorLimit: 0 }).property).toBe("connection.dialErrorLimit");
  expect(refused({ host: "web", perDialTimeout: -1 }).property).toBe("connection.perDialTimeout");
});

it("reads the private key before anything dials, and never shows it", () => {
  const e = refused({ host: "web", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----" });
  expect(e.property).toBe("connection.privateKey");
  expect(e.message).not.toContain("not a key");
  expect(refused({ host: "web", privateKey: ENCRYPTED }).message).toMatch(/passphrase/i);
  expect(refused({ host: "web", privateKey: ENCRYPTED, privateKeyPassword: "wrong" }).property).toBe("connection.privateKey");
  expect(validateConnection({ host: "web", privateKey: ENCRYPTED, privateKeyPassword: "sesame" }).privateKey).toBe(ENCRYPTED);
});

it("checks a bastion as a connection without a proxy of its own", () => {
  const c = validateConnection({ host: "web.lab", user: "ops", proxy: { host: "bastion.lab", port: 2222 } });
  expect(c.proxy).toEqual({ host: "bastion.lab", port: 2222, user: "root", dialErrorLimit: 10, perDialTimeout: 15 });
  expect(refused({ host: "web.lab", proxy: { host: "b", proxy: { host: "c" } } }).property).toBe("connection.proxy.proxy");
});

it.each([
  [{}, "connection.host"],
  [{ host: "a b" }, "connection.host"],
  [{ host: "web", port: 0 }, "connection.port"],
  [{ host: "web", port: "22" }, "connection.port"],
  [{ host: "web", dialErrorLimit: 1.5 }, "connection.dialErrorLimit"],
  [{ host: "web", user: "$(reboot)" }, "connection.user"],
  [{ host: "web", colour: "blue" }, "connection.colour"],
  [{ host: "web", proxy: { host: "" } }, "connection.proxy.host"],
  ["web", "connection"],
  [{ host: "[::1]" }, "connection.host"],
  [{ host: "[::1" }, "connection.host"],
])("%j is refused naming %s", (raw, property) => {
  const e = refused(raw);
  expect(e.property).toBe(property);
  expect(e.message.startsWith(`${property}: invalid value`)).toBe(true);
});

it("never shows a credential in an error", () => {
  for (const field of ["password", "privateKey", "privateKeyPassword"]) {
    const e = refused({ host: "web", [field]: 42 });
    expect(e.property).toBe(`connection.${field}`);
    expect(e.message).not.toContain("42");
    expect(e.message).toContain("[secret]");
  }
  const e = refused({ host: "web", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----", port: -1 });
  expect(e.message).not.toContain("BEGIN");
  expect(refused({ host: "web", passphrase: "hunter2" }).message).not.toContain("hunter2");
  expect(refused("-----BEGIN OPENSSH PRIVATE KEY-----").message).not.toContain("BEGIN");
});

it("takes IPv6 addresses without brackets, as @pulumi/command does", () => {
  expect(validateConnection({ host: "::1" }).host).toBe("::1");
  expect(validateConnection({ host: "fd00::5" }).host).toBe("fd00::5");
});

it("one machine per host and port, whatever the case of the name", () => {
  expect(machineOf(validateConnection({ host: "Web.Lab" }))).toBe(machineOf(validateConnection({ host: "web.lab", port: 22 })));
  expect(machineOf(validateConnection({ host: "web.lab", port: 2222 }))).not.toBe(machineOf(validateConnection({ host: "web.lab" })));
});
