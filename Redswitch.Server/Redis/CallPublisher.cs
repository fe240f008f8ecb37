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
    void ResetHistory(string orgId, string userId);
    void ActiveAdd(string dialId, string orgId, string userId, int side);
    void ActiveRemove(string dialId, string orgId, string userId, int side);
}

public sealed class CallPublisher(IConnectionMultiplexer redis, Metrics.RedswitchMetrics metrics) : ICallPublisher
{
    private readonly IDatabase _db = redis.GetDatabase();

    public void Event(string dialId, string? orgId, string? userId, string json)
    {
        if (orgId is not null && userId is not null)
        {
            var key = RedisKeys.History(orgId, userId);
            Fire(_db.ListLeftPushAsync(key, json, flags: CommandFlags.FireAndForget));
            Fire(_db.KeyExpireAsync(key, TimeSpan.FromSeconds(RedisKeys.HistoryTtl), CommandFlags.FireAndForget));
        }
        Fire(_db.PublishAsync(RedisChannel.Literal(dialId), json, CommandFlags.FireAndForget));
    }

    public void Reply(string dialId, string json) =>
        Fire(_db.PublishAsync(RedisChannel.Literal(dialId), json, CommandFlags.FireAndForget));

    public void ResetHistory(string orgId, string userId) =>
        Fire(_db.KeyDeleteAsync(RedisKeys.History(orgId, userId), CommandFlags.FireAndForget));

    public void ActiveAdd(string dialId, string orgId, string userId, int side)
    {
        var key = RedisKeys.Active(dialId, orgId, userId);
        Fire(_db.ListLeftPushAsync(key, "ACTIVE." + side, flags: CommandFlags.FireAndForget));
        Fire(_db.KeyExpireAsync(key, TimeSpan.FromSeconds(RedisKeys.ActiveTtl), CommandFlags.FireAndForget));
    }

    public void ActiveRemove(string dialId, string orgId, string userId, int side)
    {
        var key = RedisKeys.Active(dialId, orgId, userId);
        Fire(_db.ListRemoveAsync(key, "ACTIVE." + side, 0, CommandFlags.FireAndForget));
        Fire(_db.KeyExpireAsync(key, TimeSpan.FromSeconds(RedisKeys.ActiveTtl), CommandFlags.FireAndForget));
    }

    private void Fire(Task t)
    {
        if (t.IsFaulted) metrics.RedisErrors.Inc();
    }
}
