using Redswitch.Server.Metrics;
using Redswitch.Tests.Infrastructure;
using Redswitch.Tests.Server;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Ops;

/// <summary>
/// SPEC §10: every metric the dashboard or an alert rule names is one a running server exports. A real server (over
/// redis-server and the simulator) runs one call and one bad job, then its /metrics is compared with every name
/// read from ops/.
/// </summary>
[Category("e2e")]
[NonParallelizable]
public class ExportedNamesTests : RedisAndSimulatorTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    // Series Prometheus makes itself for each target, not the server.
    private static readonly HashSet<string> ScrapeSeries = ["up"];

    [Test]
    public async Task EveryNameInTheDashboardAndTheAlertsIsExported()
    {
        var dashboard = OpsFiles.DashboardExprs().SelectMany(PromQl.MetricNames).ToHashSet();
        var alerts = OpsFiles.AlertExprs().SelectMany(a => PromQl.MetricNames(a.Expr)).ToHashSet();
        // the extraction found what these files obviously hold: it cannot pass by finding nothing
        Assert.That(dashboard, Has.Count.GreaterThanOrEqualTo(35), string.Join(", ", dashboard));
        Assert.That(alerts, Has.Count.GreaterThanOrEqualTo(9), string.Join(", ", alerts));
        Assert.That(dashboard, Does.Contain("redswitch_originate_latency_seconds_bucket").And.Contain("process_cpu_seconds_total"));
        Assert.That(alerts, Does.Contain("redswitch_redis_reachable").And.Contain("up"));

        var server = await StartServerAsync();
        var dialId = NewDialId();
        await using (var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId))
        {
            await PushAsync(_redis, Call(dialId));
            await watch.CollectAsync(m => m == Answer(1), 1, 10);
            await watch.SendAsync("""{"type": "whisper"}""");
            await watch.NextAsync();
            await watch.SendAsync("""{"type": "hangup"}""");
            await watch.CollectAsync(IsHangup, 2);
        }
        await PushAsync(_redis, "not json");
        await WaitAsync(() => _redis.Db.ListLength($"{{{JobList}}}.dead") == 1, 5, "the bad job dead-lettered");

        var text = await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        var exported = new Exposition(text);
        var missing = dashboard.Concat(alerts).Distinct().Where(n => !ScrapeSeries.Contains(n) && !exported.Exports(n)).Order().ToList();
        Assert.That(missing, Is.Empty, "named in ops/ but not exported by the server:\n" + string.Join("\n", missing));
        // and the check bites: a name the server does not export is caught, so is a histogram's bare name
        Assert.That(exported.Exports("redswitch_bogus_total"), Is.False);
        Assert.That(exported.Exports("redswitch_originate_latency_seconds"), Is.False);

        // the scraped values make sense after that traffic
        Assert.That(exported.Value($"redswitch_build_info{{version=\"{RedswitchMetrics.Version}\"}}"), Is.EqualTo(1));
        Assert.That(exported.Value("redswitch_jobs_backlog"), Is.Zero);
        Assert.That(exported.Value("redswitch_dead_letters"), Is.EqualTo(1));
        Assert.That(exported.Value("redswitch_redis_reachable"), Is.EqualTo(1));
        Assert.That(exported.Value("redswitch_calls_total{result=\"connected\"}"), Is.EqualTo(1));
        Assert.That(exported.Value("process_cpu_seconds_total"), Is.GreaterThan(0));
    }
}
