using System.Reflection;
using System.Text.RegularExpressions;
using Redswitch.Server;
using Redswitch.Server.Metrics;

namespace Redswitch.Tests.Ops;

/// <summary>build_info, the process and runtime metrics, and SPEC §10's names, on a registry of their own.</summary>
public class RuntimeMetricsTests
{
    [Test]
    public async Task BuildInfoCarriesTheServerAssemblysVersion()
    {
        var expected = typeof(RedswitchService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.That(expected, Does.Match(@"^\d+\.\d+"));
        var e = new Exposition(await OpsFiles.ScrapeAsync(new RedswitchMetrics().Registry));
        Assert.That(e.Value($"redswitch_build_info{{version=\"{expected}\"}}"), Is.EqualTo(1));
        Assert.That(e.Samples.Keys.Count(k => k.StartsWith("redswitch_build_info", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public async Task ProcessAndRuntimeMetricsHavePlausibleValues()
    {
        var metrics = new RedswitchMetrics();
        var before = new Exposition(await OpsFiles.ScrapeAsync(metrics.Registry));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        _ = new byte[200_000]; // on the large-object heap
        var e = new Exposition(await OpsFiles.ScrapeAsync(metrics.Registry));

        Assert.That(e.Value("process_cpu_seconds_total"), Is.GreaterThan(0));
        Assert.That(e.Value("process_working_set_bytes"), Is.GreaterThan(10_000_000));
        Assert.That(e.Value("process_private_memory_bytes"), Is.GreaterThan(0));
        Assert.That(e.Value("process_open_handles"), Is.GreaterThan(0));
        Assert.That(e.Value("process_num_threads"), Is.GreaterThan(1));
        Assert.That(e.Value("dotnet_total_memory_bytes"), Is.GreaterThan(0));
        Assert.That(e.Value("dotnet_collection_count_total{generation=\"2\"}"),
            Is.GreaterThan(before.Value("dotnet_collection_count_total{generation=\"2\"}")!.Value), "a gen-2 collection is counted at the next scrape");
        Assert.That(e.Value("dotnet_gc_pause_seconds_total"), Is.GreaterThan(0));
        foreach (var gen in new[] { "gen0", "gen1", "gen2", "loh", "poh" })
            Assert.That(e.Value($"dotnet_gc_heap_size_bytes{{generation=\"{gen}\"}}"), Is.Not.Null, gen);
        Assert.That(e.Value("dotnet_gc_heap_size_bytes{generation=\"gen2\"}"), Is.GreaterThan(0));
        Assert.That(e.Value("dotnet_gc_committed_bytes"), Is.GreaterThan(0));
        Assert.That(e.Value("dotnet_gc_allocated_bytes_total"), Is.GreaterThan(before.Value("dotnet_gc_allocated_bytes_total")!.Value));
        Assert.That(e.Value("dotnet_threadpool_threads"), Is.GreaterThanOrEqualTo(1));
        Assert.That(e.Value("dotnet_threadpool_queue_length"), Is.GreaterThanOrEqualTo(0));
        Assert.That(e.Value("dotnet_threadpool_completed_items_total"), Is.GreaterThan(0));
        Assert.That(e.Value("dotnet_lock_contentions_total"), Is.GreaterThanOrEqualTo(0));
        Assert.That(e.Value("dotnet_timers"), Is.GreaterThanOrEqualTo(0));
        Assert.That(e.Types["process_cpu_seconds_total"], Is.EqualTo("counter"));
        Assert.That(e.Types["dotnet_gc_pause_seconds_total"], Is.EqualTo("counter"));
    }

    [Test]
    public async Task SeveralInstancesLiveInOneProcess()
    {
        // in-process test servers each build their own: nothing global may clash, scrapes may overlap
        var all = Enumerable.Range(0, 4).Select(_ => new RedswitchMetrics()).ToList();
        var scrapes = await Task.WhenAll(all.SelectMany(m => new[] { OpsFiles.ScrapeAsync(m.Registry), OpsFiles.ScrapeAsync(m.Registry) }));
        foreach (var text in scrapes)
        {
            var e = new Exposition(text);
            Assert.That(e.HasSeries("redswitch_build_info"), Is.True);
            Assert.That(e.Value("process_cpu_seconds_total"), Is.GreaterThan(0));
        }
        all[0].CallsLive.Inc();
        Assert.That(new Exposition(await OpsFiles.ScrapeAsync(all[1].Registry)).Value("redswitch_calls_live"), Is.Zero, "registries are separate");
    }

    [Test]
    public async Task EveryNameSpec10ListsIsRegistered()
    {
        var spec = File.ReadAllText(Path.Combine(OpsFiles.Root, "docs", "SPEC.md"));
        var section = Regex.Match(spec, @"^## 10\. Operations$(.*?)^## 11\.", RegexOptions.Multiline | RegexOptions.Singleline).Groups[1].Value;
        var named = Regex.Matches(section, @"`(redswitch_[a-z_]+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(named, Has.Count.GreaterThanOrEqualTo(7), "SPEC §10 names its metrics");
        var e = new Exposition(await OpsFiles.ScrapeAsync(new RedswitchMetrics().Registry));
        Assert.That(named.Where(n => !e.Types.ContainsKey(n)), Is.Empty, "named in SPEC §10 but not registered");
    }
}
