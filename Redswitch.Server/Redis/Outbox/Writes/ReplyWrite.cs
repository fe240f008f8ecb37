using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox.Writes;

/// <summary>
/// A reply to a control message (ack or failure), or an event of a call whose user is unknown: published once by
/// <see cref="OutboxScripts.Announce"/> only — replies are not history (SPEC §8).
/// </summary>
/// <param name="mark">For an event: the state-hash field recording it went out (SPEC §8.1).</param>
public sealed class ReplyWrite(string dialId, string json, string mark = "") : OutboxWrite
{
    public override string What => $"reply {json}";

    public override string? Published => json;

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var verdict = (long)await db.ScriptEvaluateAsync(OutboxScripts.Announce, OutboxScripts.GateKeys(dialId),
            [Seq, RedisKeys.DialledTtl, dialId, json, GateMode, FenceOwner, FenceEpoch, mark]).ConfigureAwait(false);
        return verdict switch { 0 => WriteResult.Stale, < 0 => WriteResult.Fenced, _ => WriteResult.Done };
    }

    internal override void Confirmed(OutboxLane lane)
    {
        lane.ConfirmedSeq = Seq;
        if (mark.Length > 0) lane.Confirm(mark, "1");
    }
}
