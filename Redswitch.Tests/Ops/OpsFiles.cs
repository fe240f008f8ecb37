using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Prometheus;

namespace Redswitch.Tests.Ops;

/// <summary>The checked-in ops files (ops/, docs/runbook.md) and what the tests read out of them.</summary>
public static class OpsFiles
{
    public static string Root { get; } = FindRoot();

    public static string Dashboard => Path.Combine(Root, "ops", "grafana-dashboard.json");
    public static string Alerts => Path.Combine(Root, "ops", "alerts.yml");
    public static string AlertTests => Path.Combine(Root, "ops", "alerts.test.yml");
    public static string Runbook => Path.Combine(Root, "docs", "runbook.md");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Redswitch.sln"))) return dir.FullName;
        throw new InvalidOperationException("Redswitch.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>Every non-row panel of the dashboard (rows may nest panels when collapsed), with its target expressions.</summary>
    public static List<(string Title, string Type, List<string> Exprs)> DashboardPanels()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Dashboard));
        var found = new List<(string, string, List<string>)>();
        void Walk(JsonElement panels)
        {
            foreach (var p in panels.EnumerateArray())
            {
                var type = p.GetProperty("type").GetString()!;
                if (type == "row")
                {
                    if (p.TryGetProperty("panels", out var inner)) Walk(inner);
                    continue;
                }
                var exprs = new List<string>();
                if (p.TryGetProperty("targets", out var targets))
                    foreach (var t in targets.EnumerateArray())
                        if (t.TryGetProperty("expr", out var e) && e.GetString() is { Length: > 0 } s) exprs.Add(s);
                found.Add((p.TryGetProperty("title", out var title) ? title.GetString() ?? "" : "", type, exprs));
            }
        }
        Walk(doc.RootElement.GetProperty("panels"));
        return found;
    }

    public static List<string> DashboardExprs() => DashboardPanels().SelectMany(p => p.Exprs).ToList();

    /// <summary>The dashboard's expressions with Grafana's variables put in, as Prometheus would receive them.</summary>
    public static string Concrete(string expr) => expr
        .Replace("$__rate_interval", "5m", StringComparison.Ordinal)
        .Replace("$job", "redswitch", StringComparison.Ordinal)
        .Replace("$instance", ".*", StringComparison.Ordinal);

    /// <summary>
    /// (alert name, expr) of every rule in ops/alerts.yml. A small reader for this file's shapes — `expr: text` on one
    /// line or `expr: |` with an indented block — checked against the number of `- alert:` entries, so a rule whose
    /// expression it could not read fails the tests instead of being skipped.
    /// </summary>
    public static List<(string Alert, string Expr)> AlertExprs()
    {
        var lines = File.ReadAllLines(Alerts);
        var rules = new List<(string, string)>();
        string? alert = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var a = Regex.Match(lines[i], @"^\s*-\s*alert:\s*(\S+)\s*$");
            if (a.Success)
            {
                alert = a.Groups[1].Value;
                continue;
            }
            var m = Regex.Match(lines[i], @"^(\s*)expr:\s*(.*)$");
            if (!m.Success) continue;
            var indent = m.Groups[1].Value.Length;
            var value = m.Groups[2].Value.Trim();
            string expr;
            if (value is "|" or "|-" or ">" or ">-")
            {
                var block = new StringBuilder();
                while (i + 1 < lines.Length && (lines[i + 1].Trim().Length == 0 || lines[i + 1].Length - lines[i + 1].TrimStart().Length > indent))
                    block.AppendLine(lines[++i].Trim());
                expr = block.ToString().Trim();
            }
            else expr = value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0] ? value[1..^1] : value;
            rules.Add((alert ?? throw new InvalidOperationException($"expr before any alert at line {i + 1}"), expr));
            alert = null;
        }
        var declared = lines.Count(l => Regex.IsMatch(l, @"^\s*-\s*alert:"));
        Assert.That(rules, Has.Count.EqualTo(declared), "one expression read per `- alert:` in ops/alerts.yml");
        return rules;
    }

    /// <summary>Runs promtool (Debian's prometheus package); fails the test with the way to get it when it is missing.</summary>
    public static (int Exit, string Output) Promtool(string workDir, params string[] args)
    {
        var exe = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin")
            .Select(d => Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);
        if (exe is null)
            Assert.Fail("promtool is not on PATH: install it with `apt-get install -y --no-install-recommends prometheus` (Debian; .ci/run does this)");
        var psi = new ProcessStartInfo(exe!) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            Assert.Fail($"promtool {string.Join(' ', args)} did not finish within 60 s");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static async Task<string> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}

/// <summary>The Prometheus text exposition format, as far as the tests need it: families with their type, and samples.</summary>
public sealed class Exposition
{
    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);
    /// <summary>Sample lines: series ("name{labels}") → value.</summary>
    public Dictionary<string, double> Samples { get; } = new(StringComparer.Ordinal);

    public Exposition(string text)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Types[parts[2]] = parts[3];
            }
            else if (!line.StartsWith('#'))
            {
                var cut = line.LastIndexOf(' ');
                Samples[line[..cut]] = double.Parse(line[(cut + 1)..], CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>
    /// True when a query naming <paramref name="name"/> can find series in this exposition's family set: a counter,
    /// gauge or untyped family of that name, or a histogram's _bucket/_sum/_count (a summary's _sum/_count). A
    /// histogram's bare name is no series. A family counts once declared (`# TYPE`): prometheus-net 8 declares every
    /// registered metric, even a labelled one with no series yet.
    /// </summary>
    public bool Exports(string name)
    {
        if (Types.TryGetValue(name, out var type)) return type is "counter" or "gauge" or "untyped";
        foreach (var (suffix, types) in new[] { ("_bucket", new[] { "histogram" }), ("_sum", new[] { "histogram", "summary" }), ("_count", new[] { "histogram", "summary" }) })
            if (name.EndsWith(suffix, StringComparison.Ordinal) && Types.TryGetValue(name[..^suffix.Length], out var t) && types.Contains(t))
                return true;
        return false;
    }

    public double? Value(string series) => Samples.TryGetValue(series, out var v) ? v : null;

    /// <summary>Whether any sample of the family <paramref name="name"/> is present (with or without labels).</summary>
    public bool HasSeries(string name) => Samples.Keys.Any(k => k == name || k.StartsWith(name + "{", StringComparison.Ordinal));
}

/// <summary>The metric names a PromQL expression selects.</summary>
public static class PromQl
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "atan2",
    };

    /// <summary>
    /// Strips what is not a metric name — string literals (label values, regexes, Grafana variables inside them),
    /// label matchers, ranges and durations, grouping label lists, numbers — then takes every remaining identifier that
    /// is not a keyword and not called as a function or aggregation.
    /// </summary>
    public static SortedSet<string> MetricNames(string expr)
    {
        var s = Regex.Replace(expr, "\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`", " ");
        s = Regex.Replace(s, @"\{[^}]*\}", " ");
        s = Regex.Replace(s, @"\[[^\]]*\]", " ");
        s = Regex.Replace(s, @"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ");
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(s, @"\$?[A-Za-z_:][A-Za-z0-9_:]*|[0-9][0-9A-Za-z_.]*"))
        {
            var token = m.Value;
            if (char.IsDigit(token[0]) || token[0] == '$' || Keywords.Contains(token)) continue;
            var rest = s.AsSpan(m.Index + m.Length).TrimStart();
            if (rest.Length > 0 && rest[0] == '(') continue; // a function or an aggregation
            names.Add(token);
        }
        return names;
    }
}
