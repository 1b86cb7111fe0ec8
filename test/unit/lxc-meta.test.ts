/**
 * An LXC image's metadata without a host: which of its lines and template paths are taken, and how the
 * download template's variables are filled in.
 */
import { fillTemplate, lxcImageMetaOf, lxcTemplateVars } from "../../provider/src/model/lxc-meta";

describe("an LXC image's metadata", () => {
  it("takes the config's lines but blank ones and comments, and the template paths inside the rootfs", () => {
    expect(
      lxcImageMetaOf({
        config: "# Distribution configuration\nlxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf\n\nlxc.arch = x86_64\n",
        templates: "/etc/hostname\n/etc/hosts\netc/relative\n/etc/../../escape\n/\n/etc/.\n/etc/\n\n",
      }),
    ).toEqual({
      config: ["lxc.include = LXC_TEMPLATE_CONFIG/debian.common.conf", "lxc.arch = x86_64"],
      templates: ["/etc/hostname", "/etc/hosts"],
    });
    expect(lxcImageMetaOf({})).toEqual({ config: [], templates: [] });
  });

  it("fills in the container's name and paths, and this host's LXC directories, in one pass", () => {
    const vars = lxcTemplateVars("/var/lib/lxc/web");
    expect(fillTemplate("LXC_NAME LXC_PATH LXC_ROOTFS LXC_TEMPLATE_CONFIG LXC_HOOK_DIR", vars)).toBe(
      "web /var/lib/lxc/web /var/lib/lxc/web/rootfs /usr/share/lxc/config /usr/share/lxc/hooks",
    );
    // A container named after a variable is not filled in twice.
    expect(fillTemplate("127.0.1.1\tLXC_NAME\n", lxcTemplateVars("/srv/lxc/LXC_PATH"))).toBe("127.0.1.1\tLXC_PATH\n");
  });
});
