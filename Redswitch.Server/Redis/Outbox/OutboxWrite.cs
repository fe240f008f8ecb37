using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox;

/// <summary>What became of one write.</summary>
public enum WriteResult
{
    /// <summary>Redis has it.</summary>
    Done,
    /// <summary>The gate refused it: an older message of the call (SPEC §8.1). Nothing was written.</summary>
    Stale,
    /// <summary>Another owner holds the call now (SPEC §8.1 "Fencing"): nothing was written, nor will be.</summary>
    Fenced,
}

/// <summary>
/// One message of the outbox: the Redis commands of one event, reply or bookkeeping write. <see cref="SendAsync"/> may
/// run more than once (after a connection failure); with <c>retry</c> set it must not repeat what already happened.
/// A Redis exception thrown from it is the lane's to classify.
/// </summary>
public abstract class OutboxWrite
{
    /// <summary>It publishes on the call's channel, so it carries the call's next sequence number.</summary>
    public bool Sequenced => Published is not null;

    /// <summary>Set by the lane when it is queued (sequenced writes only).</summary>
    public long Seq { get; internal set; }

    /// <summary>The call's owner and epoch when it was queued (set by the lane; empty owner: not fenced).</summary>
    public string Owner { get; internal set; } = "";
    public long Epoch { get; internal set; }

    /// <summary>The fence arguments of the scripts: owner, epoch.</summary>
    protected RedisValue FenceOwner => Owner;
    protected RedisValue FenceEpoch => Epoch;

    /// <summary>What it publishes on the call's channel through the gate (null: nothing, or, for a refused job, not through the gate).</summary>
    public virtual string? Published => null;

    /// <summary>It went to Redis at least once (a retry may find it done).</summary>
    internal bool Sent { get; set; }

    /// <summary>The outbox's count of Redis restarts when it was last sent.</summary>
    internal int SentInRestart { get; set; }

    /// <summary>Redis restarted (new run_id) since it was last sent: whether subscribers got it is in doubt.</summary>
    internal bool RestartedSinceSent { get; set; }

    /// <summary>
    /// The instance heard it on its own subscription while it was unconfirmed: it was published, whatever became of
    /// its reply. After a Redis restart only this tells whether subscribers got it (SPEC §4 "No event is published twice").
    /// </summary>
    internal bool Heard { get; set; }

    /// <summary>The gate's mode argument: 1 heard (record, do not publish), 2 in doubt after a restart (publish even if recorded), 0 otherwise.</summary>
    protected RedisValue GateMode => Heard ? 1 : RestartedSinceSent ? 2 : 0;

    public abstract Task<WriteResult> SendAsync(IDatabase db, bool retry);

    /// <summary>Redis confirmed it: what the lane keeps to write back after Redis lost its data (under the lane's lock).</summary>
    internal virtual void Confirmed(OutboxLane lane) { }

    /// <summary>Redis confirmed it: whoever waits for it is told (outside the lane's lock, so it may take its own).</summary>
    internal virtual void AfterConfirmed() { }

    /// <summary>For the log line of a refused write.</summary>
    public abstract string What { get; }
}
