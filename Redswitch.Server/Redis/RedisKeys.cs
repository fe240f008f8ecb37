namespace Redswitch.Server.Redis;

/// <summary>Key names of SPEC §3.2 and §8. The job keys share the hash tag {JOB_LIST} so multi-key commands stay in one slot.</summary>
public sealed class RedisKeys(string jobList, string instanceId)
{
    public string JobList { get; } = jobList;
    public string InstanceId { get; } = instanceId;
    public string Processing { get; } = $"{{{jobList}}}.processing.{instanceId}";
    public string Dead { get; } = $"{{{jobList}}}.dead";
    public string Heartbeat { get; } = $"{{{jobList}}}.heartbeat.{instanceId}";
    public string ProcessingPrefix { get; } = $"{{{jobList}}}.processing.";
    public string HeartbeatPrefix { get; } = $"{{{jobList}}}.heartbeat.";

    /// <summary>Live instances: member INSTANCE_ID, score = lease expiry in ms by Redis's clock (SPEC §8.1).</summary>
    public const string Instances = "{redswitch}.instances";

    /// <summary>Each instance's outbound address (OUTBOUND_ADVERTISE), by INSTANCE_ID: where a peer's caller may reach it.</summary>
    public const string Sockets = "{redswitch}.sockets";

    /// <summary>Instances draining (SPEC §8 "Graceful stop"): still live, but neither a peer to hand calls to nor a socket host.</summary>
    public const string Draining = "{redswitch}.draining";

    /// <summary>Pub/Sub channel of hand-offs (SPEC §8.1 "Release"): "&lt;instance&gt; &lt;dial_id&gt;" for each call released.</summary>
    public const string Handoff = "{redswitch}.handoff";

    /// <summary>The dial_ids an instance owns (SPEC §8.1): found here, decided by each call's hash.</summary>
    public static string Owned(string instanceId) => $"{{redswitch}}.owned.{instanceId}";

    public static string Dialled(string dialId) => $"redswitch.dialled.{dialId}";
    public static string Active(string dialId, string orgId, string userId) => $"redswitch.{dialId}.{orgId}.{userId}";
    public static string History(string orgId, string userId) => $"redswitch_history.{orgId}.{userId}";
    /// <summary>Owner state of a live call (for take-over by a restarted instance or a peer).</summary>
    public static string CallState(string dialId) => $"redswitch.call.{{{dialId}}}";

    public const int DialledTtl = 86400;
    public const int ActiveTtl = 86400;
    public const int HistoryTtl = 14400;
}
