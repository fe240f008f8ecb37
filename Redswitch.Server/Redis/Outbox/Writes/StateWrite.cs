using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox.Writes;

/// <summary>Fields of the call's state hash (SPEC §8.1): idempotent, so a retry simply writes them again.</summary>
public sealed class StateWrite(string dialId, IReadOnlyList<(string Field, string Value)> fields) : OutboxWrite
{
    public override string What => "state " + string.Join(",", fields.Select(f => f.Field));

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var args = new RedisValue[fields.Count * 2 + 3];
        args[0] = RedisKeys.DialledTtl;
        args[1] = FenceOwner;
        args[2] = FenceEpoch;
        for (var i = 0; i < fields.Count; i++)
        {
            args[3 + 2 * i] = fields[i].Field;
            args[4 + 2 * i] = fields[i].Value;
        }
        var r = (long)await db.ScriptEvaluateAsync(OutboxScripts.SaveState, OutboxScripts.StateKeys(dialId), args).ConfigureAwait(false);
        return r < 0 ? WriteResult.Fenced : WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane)
    {
        foreach (var (f, v) in fields) lane.Confirm(f, v);
    }
}

/// <summary>
/// The state hash deleted when the call's grace ends, and the call's entry in its owner's index set: the lane's last
/// write. Fenced: a former owner never deletes what a new owner holds.
/// </summary>
public sealed class StateDelete(string dialId) : OutboxWrite
{
    public override string What => "state delete";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var r = (long)await db.ScriptEvaluateAsync(OutboxScripts.DeleteState, OutboxScripts.StateKeys(dialId), [FenceOwner, FenceEpoch]).ConfigureAwait(false);
        if (r < 0) return WriteResult.Fenced;
        if (Owner.Length > 0) await db.SetRemoveAsync(RedisKeys.Owned(Owner), dialId).ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.Finished = true;
}

/// <summary>
/// The call let go of for a peer (SPEC §8.1 "Release"): owner <c>released</c>, and the peers told. The lane's last write;
/// <paramref name="released"/> runs once Redis confirmed it.
/// </summary>
public sealed class StateRelease(string dialId, string instanceId, Action released) : OutboxWrite
{
    public override string What => "release";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var r = (long)await db.ScriptEvaluateAsync(OutboxScripts.Release, OutboxScripts.StateKeys(dialId),
            [FenceOwner, FenceEpoch, RedisKeys.Handoff, instanceId + " " + dialId]).ConfigureAwait(false);
        return r < 0 ? WriteResult.Fenced : WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.Finished = true;

    internal override void AfterConfirmed() => released();
}
