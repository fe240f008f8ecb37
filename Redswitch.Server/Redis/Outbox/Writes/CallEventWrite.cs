using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox.Writes;

/// <summary>How an event changes the user's active-call list (SPEC §8).</summary>
public enum ActiveChange
{
    None,
    /// <summary>The side answered: its <c>ACTIVE.n</c> entry goes in.</summary>
    Add,
    /// <summary>An answered side hung up: its entry goes.</summary>
    Remove,
}

/// <summary>
/// A call event (call-start, answer-event, hangup-event, failure): taken by the gate on the call's state hash, then —
/// only when the gate took it — written to the history and the active list and published (SPEC §4, §8, §8.1), so a
/// subscriber that reads those lists on the event finds it there. call-start resets the history first (DEL).
/// </summary>
/// <param name="mark">The state-hash field that records the event went out (SPEC §8.1), set by the publishing script.</param>
public sealed class CallEventWrite(string dialId, string orgId, string userId, string json, bool resetsHistory, ActiveChange active, int side, string mark = "")
    : OutboxWrite
{
    private static readonly RedisValue[] Sides = ["ACTIVE.0", "ACTIVE.1", "ACTIVE.2"];

    public override string What => $"event {json}";

    public override string? Published => json;

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var history = OutboxScripts.HistoryKeys(orgId, userId);
        var gateKeys = OutboxScripts.GateKeys(dialId);
        Task reset = resetsHistory ? db.KeyDeleteAsync(history[0]) : Task.CompletedTask;
        var verdict = (long)await db.ScriptEvaluateAsync(OutboxScripts.Gate, gateKeys, [Seq, RedisKeys.DialledTtl, FenceOwner, FenceEpoch]).ConfigureAwait(false);
        await reset.ConfigureAwait(false);
        if (verdict == 0) return WriteResult.Stale;
        if (verdict < 0) return WriteResult.Fenced;

        // Bookkeeping, then the message, in one flight: Redis runs them in this order.
        var push = db.ScriptEvaluateAsync(retry || verdict == 2 ? OutboxScripts.HistoryPushOnce : OutboxScripts.HistoryPush, history,
            [json, RedisKeys.HistoryTtl]);
        var list = active switch
        {
            ActiveChange.Add => db.ScriptEvaluateAsync(OutboxScripts.ActiveAdd, OutboxScripts.ActiveKeys(dialId, orgId, userId), [SideValue(side), RedisKeys.ActiveTtl]),
            ActiveChange.Remove => db.ScriptEvaluateAsync(OutboxScripts.ActiveRemove, OutboxScripts.ActiveKeys(dialId, orgId, userId), [SideValue(side), RedisKeys.ActiveTtl]),
            _ => null,
        };
        var announce = db.ScriptEvaluateAsync(OutboxScripts.Announce, gateKeys, [Seq, RedisKeys.DialledTtl, dialId, json, GateMode, FenceOwner, FenceEpoch, mark]);
        // Each is awaited: a refused bookkeeping write is reported (and the event, announced after it, still went out).
        Exception? refused = null;
        try { await push.ConfigureAwait(false); } catch (RedisServerException e) { refused = e; }
        if (list is not null)
        {
            try { await list.ConfigureAwait(false); } catch (RedisServerException e) { refused ??= e; }
        }
        var announced = (long)await announce.ConfigureAwait(false);
        if (refused is not null) throw refused;
        return announced switch { 0 => WriteResult.Stale, < 0 => WriteResult.Fenced, _ => WriteResult.Done };
    }

    internal override void Confirmed(OutboxLane lane)
    {
        lane.ConfirmedSeq = Seq;
        if (mark.Length > 0) lane.Confirm(mark, "1");
        if (active == ActiveChange.Add) lane.ActiveSides |= 1 << side;
        else if (active == ActiveChange.Remove) lane.ActiveSides &= ~(1 << side);
    }

    public static RedisValue SideValue(int side) => side is >= 0 and <= 2 ? Sides[side] : "ACTIVE." + side;
}
