using StackExchange.Redis;

namespace Redswitch.Server.Redis;

/// <summary>
/// Publishes on the dial_id channel and keeps the history and active-call lists (SPEC §4, §8).
/// Every command is fire-and-forget on the shared multiplexer: callers invoke it in the order the
/// messages must appear (under the call's lock) and Redis executes them in that order, so the history
/// is written before the subscribers see the message.
/// </summary>
public interface ICallPublisher
{
    /// <summary>A call event: LPUSH to the history (when the user is known), then PUBLISH.</summary>
    void Event(string dialId, string? orgId, string? userId, string json);
    /// <summary>A reply (ack or control failure): PUBLISH only.</summary>
    void Reply(string dialId, string json);
    /// <summary>
    /// The owner's state of a live call (instance, node, org, user, the legs' uuids), so that a restarted
    /// instance or a peer can resume ownership (SPEC §8); null values are left out. Expires with the dialled marker.
    /// </summary>
    void SaveState(string dialId, params (string Field, string? Value)[] fields);
    void DeleteState(string dialId);

    /// <summary>call-start: DEL the user's history, LPUSH the message, PUBLISH (one script).</summary>
    void Start(string dialId, string orgId, string userId, string json);
    /// <summary>
    /// A side's answer-event (<paramref name="active"/>: its ACTIVE entry added) or an answered side's hangup-event
    /// (entry removed): the active list first, then the event, written to Redis together.
    /// </summary>
    void SideEvent(string dialId, string orgId, string userId, int side, bool active, string json);
}

public sealed class CallPublisher(IConnectionMultiplexer redis, Metrics.RedswitchMetrics metrics) : ICallPublisher
{
    // One command per key (cluster-safe: every script touches one key), executed in order on one connection.
    private const string EventScript =
        "redis.call('LPUSH', KEYS[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) return redis.call('PUBLISH', ARGV[1], ARGV[2])";
    private const string StartScript =
        "redis.call('DEL', KEYS[1]) redis.call('LPUSH', KEYS[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[3]) return redis.call('PUBLISH', ARGV[1], ARGV[2])";
    private const string ActiveAddScript = "redis.call('LPUSH', KEYS[1], ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])";
    private const string ActiveRemoveScript = "redis.call('LREM', KEYS[1], 0, ARGV[1]) return redis.call('EXPIRE', KEYS[1], ARGV[2])";

    private static readonly RedisValue HistoryTtl = RedisKeys.HistoryTtl;
    private static readonly RedisValue ActiveTtl = RedisKeys.ActiveTtl;
    private static readonly RedisValue[] Sides = ["ACTIVE.0", "ACTIVE.1", "ACTIVE.2"];

    private readonly IDatabase _db = redis.GetDatabase();

    public void Start(string dialId, string orgId, string userId, string json) =>
        Fire(_db.ScriptEvaluateAsync(StartScript, [RedisKeys.History(orgId, userId)], [dialId, json, HistoryTtl], CommandFlags.FireAndForget));

    public void Event(string dialId, string? orgId, string? userId, string json)
    {
        if (orgId is not null && userId is not null)
        {
            Fire(_db.ScriptEvaluateAsync(EventScript, [RedisKeys.History(orgId, userId)], [dialId, json, HistoryTtl], CommandFlags.FireAndForget));
        }
        else
        {
            Fire(_db.PublishAsync(RedisChannel.Literal(dialId), json, CommandFlags.FireAndForget));
        }
    }

    private const string StateScript = "redis.call('HSET', KEYS[1], unpack(ARGV, 2)) return redis.call('EXPIRE', KEYS[1], ARGV[1])";
    private static readonly RedisValue StateTtl = RedisKeys.DialledTtl;

    public void SaveState(string dialId, params (string Field, string? Value)[] fields)
    {
        var args = new List<RedisValue>(fields.Length * 2 + 1) { StateTtl };
        foreach (var (f, v) in fields)
        {
            if (v is null) continue;
            args.Add(f);
            args.Add(v);
        }
        if (args.Count > 1)
            Fire(_db.ScriptEvaluateAsync(StateScript, [RedisKeys.CallState(dialId)], [.. args], CommandFlags.FireAndForget));
    }

    public void DeleteState(string dialId) =>
        Fire(_db.KeyDeleteAsync(RedisKeys.CallState(dialId), CommandFlags.FireAndForget));

    public void Reply(string dialId, string json) =>
        Fire(_db.PublishAsync(RedisChannel.Literal(dialId), json, CommandFlags.FireAndForget));

    public void SideEvent(string dialId, string orgId, string userId, int side, bool active, string json)
    {
        // One batch: both commands go out under one write lock and one flush (fewer wake-ups per call).
        var batch = _db.CreateBatch();
        Fire(batch.ScriptEvaluateAsync(active ? ActiveAddScript : ActiveRemoveScript, [RedisKeys.Active(dialId, orgId, userId)],
            [Side(side), ActiveTtl], CommandFlags.FireAndForget));
        Fire(batch.ScriptEvaluateAsync(EventScript, [RedisKeys.History(orgId, userId)], [dialId, json, HistoryTtl], CommandFlags.FireAndForget));
        batch.Execute();
    }

    private static RedisValue Side(int side) => side is >= 0 and <= 2 ? Sides[side] : "ACTIVE." + side;

    private void Fire(Task t)
    {
        if (t.IsFaulted) metrics.RedisErrors.Inc();
    }
}
