using System.Reflection;
using Prometheus;

namespace Redswitch.Server.Metrics;

/// <summary>The SPEC §10 series, on a registry of their own (so several instances can live in one test process).</summary>
public sealed class RedswitchMetrics
{
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public Counter JobsTaken { get; }
    public Counter JobsFailed { get; }
    public Counter JobsDeadLettered { get; }
    public Histogram OriginateLatency { get; }
    public Gauge CallsLive { get; }
    public Counter CallsByResult { get; }
    public Counter HangupsByCause { get; }
    public Counter ControlMessages { get; }
    public Histogram ControlLatency { get; }
    public Gauge EslLinksUp { get; }
    public Gauge CallsUnreachable { get; }
    public Gauge EslFollowedLegs { get; }
    public Gauge OutboundSessionsOpen { get; }
    public Counter OutboundRefused { get; }
    public Counter EslFrames { get; }
    public Counter EslBytes { get; }
    public Counter RedisErrors { get; }
    public Counter RedisReconnects { get; }
    public Gauge OutboxMessages { get; }
    public Gauge OutboxOfflineSeconds { get; }
    public Counter OutboxDropped { get; }
    public Counter CallsTakenOver { get; }
    public Counter CallsReleased { get; }
    public Histogram HandoffTime { get; }
    public Gauge BuildInfo { get; }
    public Gauge JobsBacklog { get; }
    public Gauge DeadLetters { get; }
    public Gauge RedisReachable { get; }

    /// <summary>The server assembly's informational version (the SDK appends "+&lt;commit&gt;" when built from git).</summary>
    public static string Version { get; } =
        typeof(RedswitchMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public RedswitchMetrics()
    {
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        JobsTaken = f.CreateCounter("redswitch_jobs_taken_total", "Jobs taken from the job list.");
        JobsFailed = f.CreateCounter("redswitch_jobs_failed_total", "Jobs refused (bad, expired, refused by FreeSWITCH).", "cause");
        JobsDeadLettered = f.CreateCounter("redswitch_jobs_dead_lettered_total", "Jobs moved to the dead-letter list.");
        OriginateLatency = f.CreateHistogram("redswitch_originate_latency_seconds", "bgapi originate sent to FreeSWITCH accepted it.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        CallsLive = f.CreateGauge("redswitch_calls_live", "Calls this instance owns now.");
        CallsTakenOver = f.CreateCounter("redswitch_calls_taken_over_total", "Calls this instance took over from a lapsed owner (or from its own earlier run).");
        CallsReleased = f.CreateCounter("redswitch_calls_released_total", "Calls this instance released to its peers while draining (DRAIN_MODE=handoff).");
        HandoffTime = f.CreateHistogram("redswitch_handoff_seconds", "A released call's release to its claim by this instance, by Redis's clock.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        CallsByResult = f.CreateCounter("redswitch_calls_total", "Finished calls by result.", "result");
        HangupsByCause = f.CreateCounter("redswitch_hangups_total", "hangup-events published by side and cause.", "side", "cause");
        ControlMessages = f.CreateCounter("redswitch_control_messages_total", "Control messages by type and result.", "type", "result");
        ControlLatency = f.CreateHistogram("redswitch_control_latency_seconds", "Control message received to FreeSWITCH accepted.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0002, 2, 14) });
        EslLinksUp = f.CreateGauge("redswitch_esl_links_up", "Inbound ESL links authenticated and answering (not stalled), per node.", "node");
        CallsUnreachable = f.CreateGauge("redswitch_calls_unreachable",
            "Live calls on a node whose control link is down or stalled: no event, and their control messages fail with \"freeswitch unavailable\".", "node");
        EslFollowedLegs = f.CreateGauge("redswitch_esl_followed_legs",
            "Legs whose events the control link carries (their socket dropped or is late): one filter each on FreeSWITCH's side.", "node");
        OutboundSessionsOpen = f.CreateGauge("redswitch_outbound_sessions_open", "Outbound socket sessions open.");
        OutboundRefused = f.CreateCounter("redswitch_outbound_refused_total",
            "Outbound connections refused: not_allowed (OUTBOUND_ALLOW), unknown_call, timeout (no connect reply in 5 s), framing.", "reason");
        EslFrames = f.CreateCounter("redswitch_esl_frames_total", "ESL frames received.", "link");
        EslBytes = f.CreateCounter("redswitch_esl_bytes_total", "ESL bytes received.", "link");
        RedisErrors = f.CreateCounter("redswitch_redis_errors_total", "Redis commands that failed.");
        RedisReconnects = f.CreateCounter("redswitch_redis_reconnects_total", "Redis connections restored.");
        OutboxMessages = f.CreateGauge("redswitch_outbox_messages", "Redis writes in the outbox: in flight, and waiting while Redis is unreachable.");
        OutboxOfflineSeconds = f.CreateGauge("redswitch_outbox_offline_seconds",
            "Seconds the outbox has been holding writes back because Redis is unreachable (0 while Redis answers).");
        OutboxDropped = f.CreateCounter("redswitch_outbox_dropped_total", "Redis writes dropped because the outbox was full (REDIS_OUTBOX_LIMIT).");
        BuildInfo = f.CreateGauge("redswitch_build_info", "Always 1; the version label says which build runs.", "version");
        BuildInfo.WithLabels(Version).Set(1);
        // Sampled by JobListSampler at scrape time; no series until the first read (never a made-up 0).
        var sampled = new GaugeConfiguration { SuppressInitialValue = true };
        JobsBacklog = f.CreateGauge("redswitch_jobs_backlog", "Jobs waiting in JOB_LIST (LLEN, read at scrape time; the same for every instance sharing the Redis).", sampled);
        DeadLetters = f.CreateGauge("redswitch_dead_letters", "Jobs in the dead-letter list {JOB_LIST}.dead (LLEN, read at scrape time).", sampled);
        RedisReachable = f.CreateGauge("redswitch_redis_reachable",
            "1 if Redis answered this scrape's read of the job list lengths within 1 s, else 0 (then the lengths are left out).", sampled);
        RuntimeMetrics.Register(Registry);
    }
}
