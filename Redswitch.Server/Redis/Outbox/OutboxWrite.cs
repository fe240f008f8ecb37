using StackExchange.Redis;

namespace Redswitch.Server.Redis.Outbox;

/// <summary>What became of one write.</summary>
public enum WriteResult
{
    /// <summary>Redis has it.</summary>
    Done,
    /// <summary>The gate refused it: an older message of the call (SPEC §8.1). Nothing was written.</summary>
    Stale,
}

/// <summary>
/// One message of the outbox: the Redis commands of one event, reply or bookkeeping write. <see cref="SendAsync"/> may
/// run more than once (after a connection failure); with <c>retry</c> set it must not repeat what already happened.
/// A Redis exception thrown from it is the lane's to classify.
/// </summary>
public abstract class OutboxWrite
{
    /// <summary>Published through the call's gate, so it carries the call's next sequence number.</summary>
    public virtual bool Sequenced => false;

    /// <summary>Set by the lane when it is queued (sequenced writes only).</summary>
    public long Seq { get; internal set; }

    public abstract Task<WriteResult> SendAsync(IDatabase db, bool retry);

    /// <summary>Redis confirmed it: what the lane keeps to write back after Redis lost its data.</summary>
    internal virtual void Confirmed(OutboxLane lane) { }

    /// <summary>For the log line of a refused write.</summary>
    public abstract string What { get; }
}
