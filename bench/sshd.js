/**
 * An OpenSSH sshd on a loopback port for the remote cases of the bench: keys made per run, root's login
 * by key only, its log kept so that connections can be counted. The host is this machine, so a remote case
 * and its local twin differ by SSH and the agent alone. (The tests' harness, test/helpers/sshd.ts, also
 * puts each host in a mount namespace of its own; a measurement does not need that.)
 */
"use strict";
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const path = require("path");

function must(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** Starts sshd with everything under `dir`; returns the connection to give a Rootfs and a way to stop it. */
async function startSshd(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync("/run/sshd", { recursive: true });
  const hostKeyFile = path.join(dir, "host_ed25519");
  const keyFile = path.join(dir, "client_ed25519");
  for (const f of [hostKeyFile, keyFile]) {
    fs.rmSync(f, { force: true });
    fs.rmSync(`${f}.pub`, { force: true });
    must(["ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", "", "-f", f]);
  }
  const port = await freePort();
  const logFile = path.join(dir, "sshd.log");
  // Debian's sftp-server rather than internal-sftp: its log (-e, here a file) gives the bytes of each upload.
  const sftpLogFile = path.join(dir, "sftp.log");
  fs.writeFileSync(sftpLogFile, "");
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      `AuthorizedKeysFile ${keyFile}.pub`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "UseDNS no",
      "LogLevel VERBOSE",
      "MaxSessions 64",
      "MaxStartups 64:30:128",
      `Subsystem sftp /usr/lib/openssh/sftp-server -e -l INFO 2>>${sftpLogFile}`,
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/sshd", ["-D", "-f", config, "-E", logFile], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > deadline) throw new Error(`sshd did not listen: ${fs.readFileSync(logFile, "utf8")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const hostKey = fs.readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return {
    connection: { host: "127.0.0.1", port, privateKey: fs.readFileSync(keyFile, "utf8"), hostKey },
    /** Logins sshd accepted so far, from its log. */
    connections: () =>
      fs
        .readFileSync(logFile, "utf8")
        .split("\n")
        .filter((l) => l.includes("Accepted publickey")).length,
    /** Bytes written over SFTP so far, from sftp-server's log. */
    uploaded: () =>
      [...fs.readFileSync(sftpLogFile, "utf8").matchAll(/ bytes read \d+ written (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0),
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

module.exports = { startSshd };
