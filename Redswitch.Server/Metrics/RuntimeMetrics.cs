using Prometheus;

namespace Redswitch.Server.Metrics;

/// <summary>
/// Process and .NET runtime metrics on a registry (SPEC §10), all read when /metrics is scraped: nothing runs between
/// scrapes, so an idle instance pays nothing for them.
/// <para>
/// Why not the other prometheus-net options: <c>EventCounterAdapter</c> makes the runtime publish its counters on a
/// timer (every 10 s by default, on a thread of its own) whether anyone scrapes or not; <c>MeterAdapter</c> over the
/// "System.Runtime" Meter reads at scrape time too, but turns every .NET counter into a gauge named
/// <c>system_runtime_dotnet_…</c> with managed-lifetime expiry, and listens to every Meter of the process unless
/// filtered. The figures we want are a few cheap BCL calls away (the same ones the System.Runtime Meter makes), so
/// they are read directly here, as real counters and gauges with stable names.
/// </para>
/// <para>
/// From prometheus-net's <see cref="DotNetStats"/> (one Process.Refresh and a few /proc reads per scrape):
/// <c>process_cpu_seconds_total</c>, <c>process_working_set_bytes</c>, <c>process_private_memory_bytes</c>,
/// <c>process_virtual_memory_bytes</c>, <c>process_open_handles</c>, <c>process_num_threads</c>,
/// <c>process_start_time_seconds</c>, <c>dotnet_collection_count_total{generation}</c>, <c>dotnet_total_memory_bytes</c>.
/// Added here: GC pause time, heap size per generation after the last GC, committed and allocated bytes, thread-pool
/// threads, queue length and completed items, lock contentions, active timers.
/// </para>
/// Each registry gets its own collectors: several service instances in one (test) process do not clash.
/// </summary>
public static class RuntimeMetrics
{
    private static readonly string[] Generations = ["gen0", "gen1", "gen2", "loh", "poh"];

    public static void Register(CollectorRegistry registry)
    {
        DotNetStats.Register(registry);

        var f = Prometheus.Metrics.WithCustomRegistry(registry);
        var pause = f.CreateCounter("dotnet_gc_pause_seconds_total", "Time the GC has paused the process's threads since it started.");
        var heap = f.CreateGauge("dotnet_gc_heap_size_bytes", "GC heap size per generation after the last collection (loh: large objects, poh: pinned).",
            "generation");
        var heapChildren = Generations.Select(g => heap.WithLabels(g)).ToArray();
        var committed = f.CreateGauge("dotnet_gc_committed_bytes", "Memory the GC has committed for its heap, as of the last collection.");
        var allocated = f.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the GC heap since the process started.");
        var threads = f.CreateGauge("dotnet_threadpool_threads", "Thread-pool worker threads now.");
        var queue = f.CreateGauge("dotnet_threadpool_queue_length", "Work items queued to the thread pool, not yet started.");
        var completed = f.CreateCounter("dotnet_threadpool_completed_items_total", "Work items the thread pool has run.");
        var contentions = f.CreateCounter("dotnet_lock_contentions_total", "Times a thread waited for a contended Monitor lock.");
        var timers = f.CreateGauge("dotnet_timers", "Timers active now (each one a future wake-up).");

        registry.AddBeforeCollectCallback(() =>
        {
            // IncTo, not Inc(delta): concurrent scrapes may run this at once, and the source values are totals.
            pause.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            var info = GC.GetGCMemoryInfo();
            var gens = info.GenerationInfo;
            for (var i = 0; i < heapChildren.Length && i < gens.Length; i++) heapChildren[i].Set(gens[i].SizeAfterBytes);
            committed.Set(info.TotalCommittedBytes);
            allocated.IncTo(GC.GetTotalAllocatedBytes(precise: false));
            threads.Set(ThreadPool.ThreadCount);
            queue.Set(ThreadPool.PendingWorkItemCount);
            completed.IncTo(ThreadPool.CompletedWorkItemCount);
            contentions.IncTo(Monitor.LockContentionCount);
            timers.Set(Timer.ActiveCount);
        });
    }
}
