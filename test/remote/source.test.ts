/**
 * `source` on a remote host through the real engine. An image by URL is fetched by the host itself: the
 * HTTP server on loopback names, for every request, the process that sent it (curl, a child of the agent,
 * in the host's mount namespace), so a fetch by the machine running Pulumi would show. A preview asks with
 * one HEAD and fetches nothing; up fetches once, into the host's own cache, and a second rootfs from the
 * same URL asks nothing; a path is read on the host. A URL's user, password and query reach neither the
 * state, the engine's output nor an error, over SSH and here.
 */
import { promises as fs } from "fs";
import http from "http";
import { AddressInfo } from "net";
import path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { must, REPO, setEnv, tempDir } from "../helpers/env";
import { imageFixtures } from "../helpers/images";
import { expectNoLeaksAndRemove } from "../helpers/leaks";
import { failedPreview, makeStack, TestStack, TOOLS } from "../helpers/pulumi";
import { connectionTo, HOST_IMAGE_CACHE, inside, SshHost, startSshHost } from "../helpers/sshd";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

let a: SshHost;
let t: TestStack;
let server: http.Server;
let port: number;
let scratch: string;
/** A local lxcPath and image cache, for the rootfs made on this machine. */
let localLxcPath: string;
let localCache: string;
/** busybox repacked with one file more, whose text is new each run: an image no cache has seen. */
let image: { file: string; sha256: string; marker: string };
/** The image's name on the server: unique to this run as well. */
let imagePath: string;
/** What curl sends as its user agent: the same curl serves this machine and the host. */
let curlAgent: string;
/** Every request the server took: method, path, user agent, and which process asked, on which side. */
const requests: string[] = [];
const desired = new Map<string, Record<string, unknown>>();
let restoreEnv: () => void;

// Plain `secret` and `abc` occur in any state of their own (secrets_providers, ciphertexts, hex digests):
// the credentials searched for are words no state holds otherwise.
const PASSWORD = `s3cret-${process.pid}`;
const TOKEN = `abc-tok-${process.pid}`;
const credentialed = (p: string) => `http://user:${PASSWORD}@127.0.0.1:${port}${p}?token=${TOKEN}`;
/** The URL as a message may show it. */
const shown = (p: string) => `http://127.0.0.1:${port}${p}`;

/** The process at the other end of a connection from `clientPort`: "<comm>[ of the agent] on <side>". */
async function asker(clientPort: number): Promise<string> {
  const line = await must(["ss", "-Htnp", "state", "established", "sport", "=", `:${clientPort}`]);
  const pid = /pid=(\d+)/.exec(line)?.[1];
  if (pid === undefined) return `nobody known (${line.trim()})`;
  const [comm, stat, ns] = await Promise.all([
    fs.readFile(`/proc/${pid}/comm`, "utf8"),
    fs.readFile(`/proc/${pid}/stat`, "utf8"),
    fs.readlink(`/proc/${pid}/ns/mnt`),
  ]);
  // stat: "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
  const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  const parent = (await fs.readFile(`/proc/${ppid}/cmdline`, "utf8")).split("\0");
  const side =
    ns === (await fs.readlink(`/proc/${a.pid}/ns/mnt`))
      ? "the host"
      : ns === (await fs.readlink("/proc/self/ns/mnt"))
        ? "this machine"
        : ns;
  return `${comm.trim()}${parent.some((arg) => arg.endsWith("/agent.js")) ? " of the agent" : ""} on ${side}`;
}

/** The requests since `since`. */
const asked = (since: number) => requests.slice(since);
const byTheHost = (method: string, p = imagePath) => `${method} ${p} ${curlAgent} by curl of the agent on the host`;

beforeAll(async () => {
  scratch = await tempDir("remote-source");
  localLxcPath = path.join(scratch, "lxc");
  localCache = path.join(scratch, "cache");
  await fs.mkdir(localLxcPath);
  // The local rootfs's core runs in the engine's provider process, which has this environment.
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: localCache, NO_PROXY: "127.0.0.1" });

  const marker = `remote-source ${process.pid} ${Date.now()}\n`;
  const tar = path.join(scratch, "image.tar");
  await must(["sh", "-c", `gzip -dc "$1" > "$2"`, "sh", imageFixtures().busybox.tarball, tar]);
  await fs.mkdir(path.join(scratch, "extra", "etc"), { recursive: true });
  await fs.writeFile(path.join(scratch, "extra", "etc", "remote-source"), marker);
  await must([
    "tar",
    "--append",
    "--file",
    tar,
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-C",
    path.join(scratch, "extra"),
    "./etc/remote-source",
  ]);
  await must(["gzip", "-n", tar]);
  const file = `${tar}.gz`;
  image = { file, sha256: (await must(["sha256sum", file])).split(" ")[0], marker };
  imagePath = `/busybox-${process.pid}.tar.gz`;
  curlAgent = `curl/${(await must(["curl", "--version"])).split(" ")[1]}`;

  const body = await fs.readFile(file);
  server = http.createServer((req, res) => {
    const p = new URL(req.url!, "http://x").pathname;
    // Asked while curl waits for the answer, so the process is still there.
    void asker(req.socket.remotePort!)
      .catch((e: Error) => `nobody known (${e.message})`)
      .then((who) => {
        requests.push(`${req.method} ${p} ${req.headers["user-agent"]} by ${who}`);
        if (p !== imagePath) return res.writeHead(404).end();
        res.writeHead(200, { "content-length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;

  a = await startSshHost({ size: "512M" });
  t = await makeStack("remote-source", async () => {
    const outs: Record<string, unknown> = {};
    for (const [name, args] of desired) outs[name] = new Rootfs(name, args).sourceDigest;
    return outs;
  });
}, 120_000);

afterAll(async () => {
  await t?.destroy().catch(() => undefined);
  await a?.stop();
  server?.close();
  restoreEnv?.();
  if (localLxcPath) await expectNoLeaksAndRemove(localLxcPath);
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

const remote = (container: string, url: string, sha256 = image.sha256) => ({
  container,
  lxcPath: a.lxcPath,
  backingStore: "dir",
  source: { url, sha256 },
  connection: connectionTo(a),
});
const hostCache = () => inside(a, `ls -A ${HOST_IMAGE_CACHE}`);
/** The marker file of the image in a rootfs on the host, as `image.marker` holds it. */
const hostFile = async (container: string) => `${await inside(a, `cat ${a.lxcPath}/${container}/rootfs/etc/remote-source`)}\n`;
/** What a failed preview could change on the host: its lxcPath's tree and its image cache. */
const hostState = () => inside(a, `find ${a.lxcPath} ${HOST_IMAGE_CACHE} -printf '%p %y %s\\n' | sort`);

describe("source on a remote host", () => {
  it("a preview of a create by URL asks the server with one HEAD, sent by the host, and fetches nothing", async () => {
    desired.set("web", remote("web", credentialed(imagePath)));
    const n = requests.length;
    const { result, text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(result.changeSummary).toEqual({ create: 2 });
    expect(text).toContain(
      `rootfs ${a.lxcPath}/web: create dir at dir:${a.lxcPath}/web/rootfs, unpacked from the image ${imagePath.slice(1)} (sha256:${image.sha256}, fetched at up: 2 MiB, then counted)`,
    );
    expect(asked(n)).toEqual([byTheHost("HEAD")]);
    expect(await hostCache()).toBe("");
    expect(await inside(a, `ls -A ${a.lxcPath}`)).toBe("");
  });

  it("up has the host fetch the image once into its own cache; a second rootfs from the URL asks nothing", async () => {
    const n = requests.length;
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.outputs.web.value).toBe(`sha256:${image.sha256}`);
    expect(asked(n)).toEqual([byTheHost("HEAD"), byTheHost("GET")]);
    expect(await hostFile("web")).toBe(image.marker);
    expect(await inside(a, `${a.lxcPath}/web/rootfs/bin/busybox true && echo runs`)).toBe("runs");
    expect(await hostCache()).toBe(`sha256-${image.sha256}`);
    // Nothing reached this machine: not its own cache, nor the local one the provider was given.
    expect(await fs.readdir(HOST_IMAGE_CACHE).catch(() => [])).toEqual([]);
    expect(await fs.readdir(localCache).catch(() => [])).toEqual([]);

    desired.set("web2", remote("web2", credentialed(imagePath)));
    const m = requests.length;
    const second = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(second.result.outputs.web2.value).toBe(`sha256:${image.sha256}`);
    expect(asked(m)).toEqual([]);
    expect(await hostFile("web2")).toBe(image.marker);
  });

  it("a path is read on the host", async () => {
    const onHost = `${a.lxcPath}/images/plus.tar.gz`;
    await inside(a, `mkdir ${a.lxcPath}/images && cp ${image.file} ${onHost}`);
    await expect(fs.lstat(onHost)).rejects.toMatchObject({ code: "ENOENT" });
    desired.set("frompath", remote("frompath", onHost));
    const n = requests.length;
    const { text } = await t.run((onOutput) => t.stack.preview({ onOutput }));
    expect(text).toContain(
      `rootfs ${a.lxcPath}/frompath: create dir at dir:${a.lxcPath}/frompath/rootfs, unpacked from the image plus.tar.gz`,
    );
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.outputs.frompath.value).toBe(`sha256:${image.sha256}`);
    expect(await hostFile("frompath")).toBe(image.marker);
    expect(asked(n)).toEqual([]);
  });
});

describe("a URL's credentials are never shown, over SSH and here", () => {
  /** Fails unless `text` is free of every part of the credentials. */
  const clean = (text: string) => {
    for (const secret of [PASSWORD, TOKEN, "s3cret", "abc-tok", "user:"]) expect(text).not.toContain(secret);
    return text;
  };

  it("a rootfs on this machine fetches with this machine's curl, into its own cache", async () => {
    desired.set("local", {
      container: "local",
      lxcPath: localLxcPath,
      backingStore: "dir",
      source: { url: credentialed(imagePath), sha256: image.sha256 },
    });
    const n = requests.length;
    const { result } = await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(result.outputs.local.value).toBe(`sha256:${image.sha256}`);
    expect(asked(n)).toEqual([
      `HEAD ${imagePath} ${curlAgent} by curl on this machine`,
      `GET ${imagePath} ${curlAgent} by curl on this machine`,
    ]);
    expect(await fs.readFile(path.join(localLxcPath, "local", "rootfs", "etc", "remote-source"), "utf8")).toBe(image.marker);
    expect(await fs.readdir(localCache)).toEqual([`sha256-${image.sha256}`]);
  });

  it("a URL the server does not have fails the preview, named without its credentials, remote and local", async () => {
    for (const where of ["remote", "local"]) {
      const bad =
        where === "remote"
          ? remote("bad", credentialed("/none.tar.gz"), "1".repeat(64))
          : {
              container: "bad",
              lxcPath: localLxcPath,
              backingStore: "dir",
              source: { url: credentialed("/none.tar.gz"), sha256: "1".repeat(64) },
            };
      desired.set("bad", bad);
      const text = clean(await failedPreview(t, hostState));
      t.output.push(text);
      expect(text).toContain(`the image at ${shown("/none.tar.gz")} cannot be fetched: the server answered 404`);
    }
    desired.delete("bad");
  });

  it("an image whose sha256 is not the one given fails the up on the host, named without its credentials", async () => {
    const wrong = "0".repeat(64);
    desired.set("bad", remote("bad", credentialed(imagePath), wrong));
    const n = requests.length;
    let text = "";
    const failed = await t.stack.up({ onOutput: (s) => (text += s) }).then(
      () => "up succeeded",
      (e: Error) => e.message,
    );
    t.output.push(text, failed);
    clean(`${text}\n${failed}`);
    expect(failed).toContain(
      `source.sha256: invalid value "${wrong}": the sha256 of what ${shown(imagePath)} serves, which is sha256:${image.sha256}`,
    );
    expect(asked(n)).toEqual([byTheHost("HEAD"), byTheHost("GET")]);
    expect(await hostCache()).toBe(`sha256-${image.sha256}`);
    expect(await inside(a, `ls -A ${a.lxcPath}`)).not.toContain("bad");
    desired.delete("bad");
  });

  it("neither `pulumi stack export` nor any output of the engine holds them", async () => {
    // The CLI itself, as a user runs it (the Automation API's exportStack adds --show-secrets).
    const state = await must([path.join(TOOLS, "bin", "pulumi"), "stack", "export", "--stack", "test"], {
      cwd: t.dir,
      env: (t.stack.workspace as LocalWorkspace).envVars,
    });
    expect(state).toContain(`sha256:${image.sha256}`);
    // The sources are there, encrypted.
    expect(state).toMatch(/"source": \{\s*"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",\s*"ciphertext"/);
    clean(state);
    clean(t.output.join("\n"));
    const files = await fs.readdir(path.join(t.dir, "state"), { recursive: true });
    for (const f of files) {
      const p = path.join(t.dir, "state", String(f));
      if ((await fs.stat(p)).isFile()) clean(await fs.readFile(p, "utf8"));
    }
  });

  it("deleting the rootfs leaves the host's image cache as it was", async () => {
    desired.clear();
    await t.run((onOutput) => t.stack.up({ onOutput }));
    expect(await inside(a, `ls -A ${a.lxcPath}`)).toBe("images");
    expect(await hostCache()).toBe(`sha256-${image.sha256}`);
    expect(await fs.readdir(localLxcPath)).toEqual([]);
  });
});
