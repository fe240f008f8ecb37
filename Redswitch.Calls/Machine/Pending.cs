namespace Redswitch.Calls;

/// <summary>What a command in flight was for: its reply is handled by what it was sent for.</summary>
internal abstract record Pending
{
    public sealed record CallerOriginate : Pending;
    public sealed record BargeOriginate(Leg Leg) : Pending;
    /// <summary>uuid_kill of the caller outside a hangup request (callee gone, socket never came).</summary>
    public sealed record KillCaller : Pending;
    /// <summary>uuid_kill as part of a hangup (request or drain).</summary>
    public sealed record Kill(Leg Leg, KillBatch? Batch) : Pending;
    /// <summary>uuid_exists on a followed leg: gone ones are reported.</summary>
    public sealed record CheckExists(Leg Leg) : Pending;
    /// <summary>uuid_exists on a leg whose originate reply was lost: it settles the originate.</summary>
    public sealed record ConfirmExists(Leg Leg) : Pending;
    /// <summary>uuid_exists at a leg's deadline: there, it is a call after all; gone, it is given up.</summary>
    public sealed record LastCheck(Leg Leg) : Pending;
    /// <summary>uuid_exists at the end of the watch for a given-up caller's leg (<see cref="CallMachine"/> LateLeg).</summary>
    public sealed record WatchEnd : Pending;
    public sealed record ModeChange(PendingControl Control) : Pending;
    /// <summary>The socket's hangup for hangup messages that came before FreeSWITCH took the originate.</summary>
    public sealed record SocketHangup(IReadOnlyList<PendingControl> Requests) : Pending;
    public sealed record Bridge : Pending;
    /// <summary>uuid_dump of a leg of a call taken over: is it there, did it answer (SPEC §8.1 "Resume").</summary>
    public sealed record Dump(Leg Leg) : Pending;
}

/// <summary>
/// The uuid_kills of one hangup: the first reply from FreeSWITCH acks the request (so the ack precedes the
/// hangup-events that follow it on the same connection); a failure only when no command got through at all.
/// </summary>
internal sealed class KillBatch(IReadOnlyList<PendingControl> requests)
{
    public IReadOnlyList<PendingControl> Requests { get; } = requests;
    /// <summary>Kills still out, plus one until every kill has been sent.</summary>
    public int Outstanding { get; set; } = 1;
    public bool Answered { get; set; }
}
