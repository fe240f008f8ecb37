using System.Text.RegularExpressions;
using System.Xml.Linq;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Configuration;

namespace Redswitch.Tests.Ops;

/// <summary>
/// freeswitch-conf/ holds pieces that merge into a stock FreeSWITCH configuration: include fragments in
/// directories the stock files load, and diffs of stock files. These checks would have caught the old files,
/// which replaced stock files whole and redefined the built-in <c>loopback.auto</c>.
/// </summary>
public class FreeswitchConfTests
{
    private static string Root => Path.Combine(TestContext.CurrentContext.TestDirectory, "freeswitch-conf");

    /// <summary>Files of a stock (conf/vanilla) FreeSWITCH configuration that the pieces merge into and so must never stand in for.</summary>
    private static readonly string[] StockFiles =
    [
        "freeswitch.xml", "vars.xml",
        "autoload_configs/acl.conf.xml", "autoload_configs/event_socket.conf.xml", "autoload_configs/switch.conf.xml",
        "autoload_configs/modules.conf.xml", "autoload_configs/sofia.conf.xml",
        "sip_profiles/external.xml", "sip_profiles/internal.xml", "sip_profiles/external/example.xml",
        "dialplan/default.xml", "dialplan/public.xml", "dialplan/features.xml", "dialplan/skinny-patterns.xml",
    ];

    /// <summary>Contexts of the stock dialplan: a fragment defining one of them again would shadow or be shadowed by it.</summary>
    private static readonly string[] StockContexts = ["default", "public", "features", "skinny-patterns"];

    /// <summary>Lists of the stock acl.conf.xml, kept as they are.</summary>
    private static readonly string[] StockAclLists = ["lan", "domains"];

    /// <summary>Elements that only a whole stock file has at its top: a fragment containing one replaces a file or section.</summary>
    private static readonly string[] WholeFileElements = ["document", "section", "configuration", "settings", "network-lists", "profile", "gateways"];

    private static string Rel(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    private static IReadOnlyList<string> Files(string pattern) =>
        Directory.EnumerateFiles(Root, pattern, SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToList();

    private static RedswitchOptions Defaults()
    {
        var options = RedswitchOptions.Parse(new Dictionary<string, string?>(), out var errors);
        Assert.That(errors, Is.Empty);
        return options;
    }

    /// <summary>
    /// A fragment as FreeSWITCH reads it (switch_xml.c, preprocess): the file is an <c>&lt;include&gt;</c> whose
    /// opening and closing lines are dropped whole, and the rest is pasted where the including file says.
    /// Returns the pasted elements, parsed inside a stand-in parent.
    /// </summary>
    private static IReadOnlyList<XElement> Fragment(string path)
    {
        var text = File.ReadAllText(path);
        XDocument.Parse(text); // well-formed on its own, as editors and validators see it
        var lines = File.ReadAllLines(path);
        var kept = new List<string>();
        foreach (var line in lines)
        {
            if (line.Contains("<include>") || line.Contains("</include>"))
            {
                // The preprocessor drops the whole line: anything else on it would be lost.
                Assert.That(line.Trim(), Is.AnyOf("<include>", "</include>"), $"{Rel(path)}: <include> and </include> stand alone on their lines");
                continue;
            }
            Assert.That(line, Does.Not.Contain("<?"), $"{Rel(path)}: the preprocessor drops a line with <?");
            kept.Add(line);
        }
        // Preprocessor commands act even inside comments (and a line naming one is dropped): none belongs in a fragment.
        Assert.That(text, Does.Not.Contain("X-PRE-PROCESS").IgnoreCase, $"{Rel(path)}: no preprocessor command");
        Assert.That(text, Does.Not.Contain("<!--#"), $"{Rel(path)}: no preprocessor comment command");
        Assert.That(text, Does.Not.Contain("$${"), $"{Rel(path)}: no preprocessor variable");
        var root = XDocument.Parse(text).Root!;
        Assert.That(root.Name.LocalName, Is.EqualTo("include"), $"{Rel(path)}: a fragment, not a whole file");
        var pasted = XElement.Parse("<fragment>\n" + string.Join('\n', kept) + "\n</fragment>");
        Assert.That(pasted.Elements().Select(e => e.ToString()), Is.EqualTo(root.Elements().Select(e => e.ToString())),
            $"{Rel(path)}: the same elements once the preprocessor has read it");
        return pasted.Elements().ToList();
    }

    /// <summary>The changed lines of a unified diff (the notes before the first <c>---</c> are not part of it).</summary>
    private static (List<string> Removed, List<string> Added, List<string> Context) Diff(string name)
    {
        var removed = new List<string>();
        var added = new List<string>();
        var context = new List<string>();
        var inDiff = false;
        foreach (var line in File.ReadAllLines(Path.Combine(Root, "autoload_configs", name)))
        {
            if (line.StartsWith("--- ", StringComparison.Ordinal)) { inDiff = true; continue; }
            if (!inDiff || line.StartsWith("+++ ", StringComparison.Ordinal) || line.StartsWith("@@", StringComparison.Ordinal)) continue;
            if (line.StartsWith('+')) added.Add(line[1..]);
            else if (line.StartsWith('-')) removed.Add(line[1..]);
            else if (line.StartsWith(' ') || line.Length == 0) context.Add(line.Length == 0 ? "" : line[1..]);
            else Assert.Fail($"{name}: not a unified diff line: {line}");
        }
        Assert.That(inDiff, Is.True, $"{name}: a unified diff");
        return (removed, added, context);
    }

    /// <summary>The <c>&lt;param name=… value=…/&gt;</c> lines among <paramref name="lines"/>.</summary>
    private static Dictionary<string, string> Params(IEnumerable<string> lines) =>
        lines.Select(l => l.Trim())
            .Where(l => l.StartsWith("<param ", StringComparison.Ordinal))
            .Select(XElement.Parse)
            .ToDictionary(p => (string)p.Attribute("name")!, p => (string)p.Attribute("value")!);

    [Test]
    public void ShipsFragmentsDiffsAndTheReadme()
    {
        Assert.That(Directory.Exists(Root), Is.True, "freeswitch-conf/ is copied next to the tests");
        var files = Files("*").Select(Rel).ToList();
        Assert.That(files, Is.SupersetOf(new[]
        {
            "README.md", "autoload_configs/acl.d/redswitch.xml", "autoload_configs/acl.conf.xml.diff",
            "autoload_configs/event_socket.conf.xml.diff", "autoload_configs/switch.conf.xml.diff",
            "dialplan/redswitch.xml", "sip_profiles/external/talk_call_provider.xml",
        }));
        Assert.That(files.Where(f => !(f.EndsWith(".xml") || f.EndsWith(".diff") || f == "README.md")), Is.Empty, "only fragments, diffs and the README");
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        Assert.Multiple(() =>
        {
            foreach (var f in files.Where(f => f != "README.md"))
                Assert.That(readme, Does.Contain(f), $"the README says where {f} goes");
        });
    }

    [Test]
    public void NoFileReplacesAStockFile()
    {
        Assert.Multiple(() =>
        {
            foreach (var path in Files("*.xml"))
            {
                var rel = Rel(path);
                Assert.That(StockFiles, Does.Not.Contain(rel), $"{rel} is a stock file's path");
                // freeswitch.xml loads every autoload_configs/*.xml as a whole configuration.
                Assert.That(Path.GetDirectoryName(rel)!.Replace('\\', '/'), Is.Not.EqualTo("autoload_configs"), $"{rel} would load as a configuration of its own");
                foreach (var e in Fragment(path).SelectMany(e => e.DescendantsAndSelf()))
                    Assert.That(WholeFileElements, Does.Not.Contain(e.Name.LocalName), $"{rel}: <{e.Name.LocalName}> belongs to a whole stock file");
            }
        });
    }

    [Test]
    public void NoBuiltInAclListIsRedefined()
    {
        // Every list in any file, whatever its shape (a whole acl.conf.xml as well as a fragment).
        var lists = Files("*.xml").SelectMany(f => XDocument.Load(f).Descendants("list")).ToList();
        Assert.That(lists, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var list in lists)
            {
                var name = (string?)list.Attribute("name") ?? "";
                Assert.That(name, Does.Not.EndWith(".auto").IgnoreCase, "FreeSWITCH builds *.auto lists itself (switch_core.c); a list of that name replaces one");
                Assert.That(StockAclLists, Does.Not.Contain(name), "the stock lists stay as they are");
            }
        });
    }

    [Test]
    public void TheAclFragmentIsOneListIncludedFromTheStockFile()
    {
        var elements = Fragment(Path.Combine(Root, "autoload_configs", "acl.d", "redswitch.xml"));
        Assert.That(elements.Select(e => e.Name.LocalName), Is.EqualTo(new[] { "list" }), "pasted inside <network-lists>: lists only");
        var list = elements.Single();
        Assert.That((string?)list.Attribute("name"), Is.EqualTo("redswitch"));
        Assert.That((string?)list.Attribute("default"), Is.EqualTo("deny"));
        // apply-inbound-acl replaces the default loopback.auto, so the node's own fs_cli must stay allowed.
        var allowed = list.Elements("node").Where(n => (string?)n.Attribute("type") == "allow").Select(n => (string?)n.Attribute("cidr")).ToList();
        Assert.That(allowed, Is.SupersetOf(new[] { "127.0.0.0/8", "::1/128" }));

        var (removed, added, _) = Diff("acl.conf.xml.diff");
        Assert.That(removed, Is.Empty, "the stock acl.conf.xml only gains an include");
        var include = added.Select(l => l.Trim()).Single(l => l.StartsWith("<X-PRE-PROCESS", StringComparison.Ordinal));
        Assert.That(include, Does.EndWith("/>"), "alone on its line");
        var data = (string)XElement.Parse(include).Attribute("data")!;
        var pattern = "^" + Regex.Escape(data).Replace(@"\*", "[^/]*") + "$";
        Assert.That(Rel(Path.Combine(Root, "autoload_configs", "acl.d", "redswitch.xml"))["autoload_configs/".Length..], Does.Match(pattern),
            "the include (relative to autoload_configs/) loads the shipped fragment");
    }

    [Test]
    public void TheEventSocketDiffNamesTheListAndKeepsTheListener()
    {
        var (removed, added, context) = Diff("event_socket.conf.xml.diff");
        var before = Params(removed);
        var after = Params(added);
        var acl = Fragment(Path.Combine(Root, "autoload_configs", "acl.d", "redswitch.xml")).Single();
        Assert.Multiple(() =>
        {
            Assert.That(after["apply-inbound-acl"], Is.EqualTo((string?)acl.Attribute("name")), "the event socket applies the shipped list");
            Assert.That(added.Count(l => l.Contains("apply-inbound-acl")), Is.EqualTo(1), "one list: several must all allow a client");
            Assert.That(after["password"], Is.Not.EqualTo("ClueCon"));
            Assert.That(before["password"], Is.EqualTo("ClueCon"), "a diff against the stock file");
            Assert.That(before.Keys.Concat(after.Keys), Does.Not.Contain("listen-ip"), "listen-ip stays the stock ::");
            Assert.That(before.Keys.Concat(after.Keys), Does.Not.Contain("listen-port"));
            Assert.That(Params(context)["listen-port"], Is.EqualTo(Defaults().EslNodes[0].Port.ToString()), "the stock port is ESL_PORT's default");
        });
    }

    [Test]
    public void TheSwitchConfDiffRaisesTheSessionLimits()
    {
        var (removed, added, _) = Diff("switch.conf.xml.diff");
        var before = Params(removed);
        var after = Params(added);
        Assert.Multiple(() =>
        {
            Assert.That(before, Is.EqualTo(new Dictionary<string, string> { ["max-sessions"] = "1000", ["sessions-per-second"] = "30" }), "against the stock values");
            Assert.That(after.Keys, Is.EquivalentTo(new[] { "max-sessions", "sessions-per-second" }), "nothing else changes");
            Assert.That(int.Parse(after["sessions-per-second"]), Is.GreaterThan(30));
            Assert.That(int.Parse(after["max-sessions"]), Is.GreaterThan(1000));
        });
    }

    [Test]
    public void TheDialplanContextPointsAtTheServersDefaultPort()
    {
        var defaults = Defaults();
        var contexts = Files("*.xml").Where(f => Rel(f).StartsWith("dialplan/", StringComparison.Ordinal)).SelectMany(Fragment).ToList();
        Assert.That(contexts.Select(c => c.Name.LocalName).Distinct(), Is.EqualTo(new[] { "context" }), "dialplan/*.xml is loaded into the dialplan section: contexts only");
        Assert.That(contexts.Select(c => (string?)c.Attribute("name")), Is.EqualTo(new[] { "redswitch" }), "the context the README and SPEC §1 name");
        Assert.That(StockContexts, Does.Not.Contain("redswitch"));

        var sockets = contexts.Descendants("action").Where(a => (string?)a.Attribute("application") == "socket").ToList();
        Assert.That(sockets, Has.Count.EqualTo(1));
        var data = (string)sockets[0].Attribute("data")!;
        Assert.That(data, Does.Not.Contain("'").And.Not.Contain("\""), "in the dialplan the attribute is the whole argument: no quotes");
        var words = data.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(words.Skip(1), Is.EquivalentTo(new[] { "async", "full" }), "Redswitch's socket commands need async full");
        foreach (var host in words[0].Split('|'))
        {
            var port = host[(host.LastIndexOf(':') + 1)..];
            Assert.That(port, Is.EqualTo(defaults.OutboundListen.Port.ToString()), $"{host}: OUTBOUND_LISTEN's default port");
        }
    }

    [Test]
    public void TheGatewayIsACallProviderOfTheDefaultDialTemplate()
    {
        var defaults = Defaults();
        var gateways = Files("*.xml").Where(f => Rel(f).StartsWith("sip_profiles/external/", StringComparison.Ordinal)).SelectMany(Fragment).ToList();
        Assert.That(gateways, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var gateway in gateways)
            {
                Assert.That(gateway.Name.LocalName, Is.EqualTo("gateway"), "pasted inside the external profile's <gateways>");
                var name = (string?)gateway.Attribute("name") ?? "";
                Assert.That(name, Does.Match(@"^[\w.-]+$"), "mod_sofia ignores a gateway with another name (sofia.c)");
                Assert.That(FieldRules.IsProvider(name), Is.True, "a job can name it in call_provider");
                Assert.That(new DialStrings(defaults.Dial).Endpoint(name, "15551234567"), Is.EqualTo($"sofia/gateway/{name}/15551234567"));
            }
        });
    }
}
