using Redswitch.Calls.Jobs;
using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox.Writes;

/// <summary>The job of a call is finished: out of the processing list (SPEC §3.2). Idempotent (one LREM).</summary>
public sealed class JobDoneWrite(RedisKeys keys, string raw) : OutboxWrite
{
    public override string What => "job done";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        await db.ListRemoveAsync(keys.Processing, raw, 1).ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.JobSettled = true;
}

/// <summary>A job moved from the processing list to the dead-letter list with its cause, at most once.</summary>
public sealed class DeadLetterWrite(RedisKeys keys, string raw, string cause, long at) : OutboxWrite
{
    public override string What => $"dead-letter ({cause})";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var wrapped = $"{{\"job\": {Json.Str(raw)}, \"cause\": {Json.Str(cause)}, \"at\": {at}}}";
        await db.ScriptEvaluateAsync(OutboxScripts.DeadLetter, OutboxScripts.DeadLetterKeys(keys), [raw, wrapped]).ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.JobSettled = true;
}

/// <summary>A job that was not dialled goes back to the head of the job list, at most once, and its dialled mark (when set) goes.</summary>
public sealed class ReturnJobWrite(RedisKeys keys, string raw, string? dialledMark) : OutboxWrite
{
    public override string What => "job returned";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        var unmark = dialledMark is null ? Task.CompletedTask : db.KeyDeleteAsync(dialledMark);
        var back = db.ScriptEvaluateAsync(OutboxScripts.ReturnJob, OutboxScripts.ReturnJobKeys(keys), [raw]);
        await unmark.ConfigureAwait(false);
        await back.ConfigureAwait(false);
        return WriteResult.Done;
    }

    internal override void Confirmed(OutboxLane lane) => lane.JobSettled = true;
}

/// <summary>
/// The failure of a job that never became a call (refused before anything was dialled): history and PUBLISH in one
/// script on the history key, or a plain PUBLISH when the user is unknown. Not sequenced: no call owns the dial_id.
/// </summary>
public sealed class RefusalWrite(string dialId, string? orgId, string? userId, string json) : OutboxWrite
{
    public override string What => $"refusal {json}";

    public override async Task<WriteResult> SendAsync(IDatabase db, bool retry)
    {
        if (orgId is null || userId is null)
            await db.PublishAsync(RedisChannel.Literal(dialId), json).ConfigureAwait(false);
        else
            await db.ScriptEvaluateAsync(OutboxScripts.Refusal, OutboxScripts.HistoryKeys(orgId, userId), [dialId, json, RedisKeys.HistoryTtl]).ConfigureAwait(false);
        return WriteResult.Done;
    }
}
