using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Redswitch.Tests.Ops;

/// <summary>
/// ops/grafana-dashboard.json and ops/alerts.yml as the tools that load them see them. The promtool checks need
/// Debian's prometheus package (.ci/run installs it); no redis-server, no server.
/// </summary>
[Category("ops")]
public class DashboardAndRulesTests
{
    [Test]
    public void DashboardIsImportableJsonWithPanelsThatEachQuerySomething()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(OpsFiles.Dashboard));
        var root = doc.RootElement;
        Assert.That(root.GetProperty("title").GetString(), Is.Not.Empty);
        Assert.That(root.GetProperty("schemaVersion").GetInt32(), Is.GreaterThanOrEqualTo(36), "a schema current Grafana imports as is");

        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!, v => v);
        Assert.That(variables, Contains.Key("datasource").And.ContainKey("instance").And.ContainKey("job"));
        Assert.That(variables["datasource"].GetProperty("type").GetString(), Is.EqualTo("datasource"));
        Assert.That(variables["datasource"].GetProperty("query").GetString(), Is.EqualTo("prometheus"));

        var panels = OpsFiles.DashboardPanels();
        Assert.That(panels, Has.Count.GreaterThanOrEqualTo(25));
        foreach (var (title, type, exprs) in panels)
        {
            Assert.That(title, Is.Not.Empty, $"a {type} panel without a title");
            Assert.That(exprs, Is.Not.Empty, $"panel '{title}' has no target expression");
        }

        // every panel and target queries the templated data source (no data source uid of someone's Grafana)
        var ids = new List<int>();
        foreach (var p in root.GetProperty("panels").EnumerateArray())
        {
            ids.Add(p.GetProperty("id").GetInt32());
            Assert.That(p.TryGetProperty("gridPos", out _), Is.True, $"panel {ids[^1]} has no gridPos");
            if (p.GetProperty("type").GetString() == "row") continue;
            Assert.That(p.GetProperty("datasource").GetProperty("uid").GetString(), Is.EqualTo("${datasource}"));
            foreach (var t in p.GetProperty("targets").EnumerateArray())
                Assert.That(t.GetProperty("datasource").GetProperty("uid").GetString(), Is.EqualTo("${datasource}"));
        }
        Assert.That(ids, Is.Unique);

        // each redswitch_ expression is narrowed to the selected instances
        foreach (var e in OpsFiles.DashboardExprs().Where(e => e.Contains("redswitch_")))
            Assert.That(e, Does.Contain("instance=~\"$instance\""), e);
    }

    [Test]
    public void DashboardCoversWhatTheIssueAsksFor()
    {
        var names = OpsFiles.DashboardExprs().SelectMany(PromQl.MetricNames).ToHashSet();
        foreach (var n in new[]
                 {
                     "redswitch_calls_live", "redswitch_calls_total", "redswitch_hangups_total", "redswitch_originate_latency_seconds_bucket",
                     "redswitch_control_latency_seconds_bucket", "redswitch_esl_links_up", "redswitch_calls_unreachable", "redswitch_esl_followed_legs",
                     "redswitch_jobs_backlog", "redswitch_dead_letters", "redswitch_outbox_messages", "redswitch_outbox_dropped_total",
                     "redswitch_calls_taken_over_total", "redswitch_calls_released_total", "redswitch_handoff_seconds_bucket",
                     "redswitch_outbound_sessions_open", "redswitch_outbound_refused_total", "redswitch_redis_errors_total",
                     "redswitch_redis_reconnects_total", "process_cpu_seconds_total", "process_working_set_bytes", "dotnet_collection_count_total",
                     "dotnet_gc_pause_seconds_total", "dotnet_threadpool_threads", "dotnet_threadpool_queue_length",
                 })
            Assert.That(names, Does.Contain(n));
        Assert.That(string.Join("\n", OpsFiles.DashboardExprs()), Does.Contain("histogram_quantile(0.99, sum by (le) (rate(redswitch_originate_latency_seconds_bucket"));
    }

    [Test]
    [Category("e2e")] // needs promtool, as the other e2e tests need redis-server
    public void DashboardExpressionsAreValidPromQl()
    {
        // promtool parses rule expressions: each dashboard query, variables put in, becomes a recording rule
        var dir = Directory.CreateTempSubdirectory("redswitch-dash-");
        try
        {
            var exprs = OpsFiles.DashboardExprs();
            var yaml = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
            for (var i = 0; i < exprs.Count; i++)
                yaml.Append($"      - record: dashboard:query_{i}\n        expr: {JsonSerializer.Serialize(OpsFiles.Concrete(exprs[i]))}\n");
            File.WriteAllText(Path.Combine(dir.FullName, "dashboard.yml"), yaml.ToString());
            var (exit, output) = OpsFiles.Promtool(dir.FullName, "check", "rules", "dashboard.yml");
            Assert.That(exit, Is.Zero, output);
            Assert.That(output, Does.Contain($"SUCCESS: {exprs.Count} rules found"));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Test]
    [Category("e2e")] // needs promtool, as the other e2e tests need redis-server
    public void AlertRulesPassPromtoolCheck()
    {
        var (exit, output) = OpsFiles.Promtool(OpsFiles.Root, "check", "rules", "ops/alerts.yml");
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain($"SUCCESS: {OpsFiles.AlertExprs().Count} rules found"));
    }

    [Test]
    [Category("e2e")] // needs promtool, as the other e2e tests need redis-server
    public void AlertRulesPassTheirUnitTests()
    {
        // ops/alerts.test.yml: each alert fires with its labels and annotations when it should, and stays quiet when it should not
        var (exit, output) = OpsFiles.Promtool(OpsFiles.Root, "test", "rules", "ops/alerts.test.yml");
        Assert.That(exit, Is.Zero, output);
        var tested = Regex.Matches(File.ReadAllText(OpsFiles.AlertTests), @"alertname:\s*(\w+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(tested, Is.EquivalentTo(OpsFiles.AlertExprs().Select(a => a.Alert)), "every alert has a rule test");
    }

    [Test]
    public void EachAlertHasForSeveritySummaryDescriptionAndARunbookSection()
    {
        var text = File.ReadAllText(OpsFiles.Alerts);
        var runbook = File.ReadAllText(OpsFiles.Runbook);
        // GitHub's anchors: the heading lower-cased
        var anchors = Regex.Matches(runbook, @"^##\s+(.+?)\s*$", RegexOptions.Multiline).Select(m => m.Groups[1].Value.ToLowerInvariant()).ToHashSet();
        var blocks = Regex.Split(text, @"^\s*-\s*alert:\s*", RegexOptions.Multiline).Skip(1).ToList();
        var alerts = OpsFiles.AlertExprs().Select(a => a.Alert).ToList();
        Assert.That(blocks, Has.Count.EqualTo(alerts.Count));
        Assert.That(alerts, Is.Unique);
        foreach (var (block, alert) in blocks.Zip(alerts))
        {
            Assert.That(block, Does.StartWith(alert));
            Assert.That(block, Does.Match(@"\n\s+for:\s*\d+[smh]"), $"{alert}: for:");
            Assert.That(block, Does.Match(@"\n\s+severity:\s*(critical|warning)"), $"{alert}: severity label");
            Assert.That(block, Does.Match(@"\n\s+summary:\s*\S"), $"{alert}: summary");
            Assert.That(block, Does.Match(@"\n\s+description:\s*\S"), $"{alert}: description");
            var runbookRef = Regex.Match(block, @"\n\s+runbook:\s*""?docs/runbook\.md#([a-z0-9-]+)""?");
            Assert.That(runbookRef.Success, Is.True, $"{alert}: runbook annotation into docs/runbook.md");
            Assert.That(anchors, Does.Contain(runbookRef.Groups[1].Value), $"{alert}: docs/runbook.md has a section #{runbookRef.Groups[1].Value}");
        }
        foreach (var (alert, expr) in OpsFiles.AlertExprs())
            Assert.That(PromQl.MetricNames(expr), Is.Not.Empty, $"{alert}: no metric name read from '{expr}'");
    }
}
