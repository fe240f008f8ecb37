using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox.Writes;

/// <summary>Fields of the call's state hash (SPEC §8.1): idempotent, so a retry simply writes them again.</summary>
public sealed class StateWrite(string dialId, IReadOnlyList<(string Field, string Value)> fields) : OutboxWrite
{
    public override string What => "state " + string.Join(",", fields.Select(f => f.Field));

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var args = new RedisValue[fields.Count * 2 + 1];
        args[0] = RedisKeys.DialledTtl;
        for (var i = 0; i < fields.Count; i++)
        {
            args[1 + 2 * i] = fields[i].Field;
            args[2 + 2 * i] = fields[i].Value;
        }
        await db.ScriptEvaluateAsync(OutboxScripts.SaveState, OutboxScripts.StateKeys(dialId), args).ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane)
    {
        lane.Fields ??= new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (f, v) in fields) lane.Fields[f] = v;
    }
}

/// <summary>The state hash deleted when the call's grace ends: the lane's last write.</summary>
public sealed class StateDelete(string dialId) : OutboxWrite
{
    public override string What => "state delete";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        await db.KeyDeleteAsync(RedisKeys.CallState(dialId)).ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.StateDeleted = true;
}
