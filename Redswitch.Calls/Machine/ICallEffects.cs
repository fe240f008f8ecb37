using Redswitch.Calls.FreeSwitch;

namespace Redswitch.Calls;

/// <summary>
/// What the call machine asks the world to do. The adapter carries each out at once, in the order given; the
/// send methods return false when nothing went out (the connection is already closed), which the machine treats
/// as a command FreeSWITCH never saw. Replies come back later as <see cref="CommandReplied"/>.
/// </summary>
public interface ICallEffects
{
    /// <summary>An event on the call's channel (and its history/active bookkeeping).</summary>
    void Publish(CallEvent evt);

    /// <summary>The one ack or failure a control message gets.</summary>
    void Reply(ControlReply reply);

    /// <summary>Fields of the call's state hash (SPEC §8).</summary>
    void SaveState(IReadOnlyList<(string Field, string Value)> fields);

    void DeleteState();

    /// <summary>On the caller's outbound socket; <paramref name="correlation"/> 0 when the reply does not matter.</summary>
    bool SendOnSocket(SocketCommand command, long correlation = 0);

    /// <summary><c>api</c> on the outbound socket when <paramref name="preferSocket"/> and it is open, else on the control link.</summary>
    bool SendApi(FsCommand command, long correlation, bool preferSocket = false);

    /// <summary><c>bgapi</c> on the control link; its BACKGROUND_JOB comes back as <see cref="BackgroundJobDone"/>.</summary>
    bool SendBgApi(Originate command, long correlation);

    /// <summary>The control link delivers this leg's channel events from now on (<c>filter Unique-ID</c>).</summary>
    void Follow(string uuid);

    void Unfollow(string uuid);

    /// <summary>Events and outbound connections for this uuid belong to this call.</summary>
    void Claim(string uuid);

    void Unclaim(string uuid);

    void SetTimer(CallTimer timer, TimeSpan after);

    void CancelTimer(CallTimer timer);

    /// <summary>What becomes of the job (once).</summary>
    void Settle(JobSettlement settlement);

    /// <summary>Every leg has ended (or the call never happened): the call's summary, once.</summary>
    void Ended(CallSummary summary);

    /// <summary>The call's channel is no longer needed (<see cref="TimerKind.Release"/> after the end).</summary>
    void Release();

    void Log(CallLogLevel level, string template, params object?[] args);
}

public enum CallLogLevel { Debug, Information, Warning }

/// <summary>What is published on the call's channel (SPEC §4); the adapter writes the JSON.</summary>
public abstract record CallEvent;

/// <summary><c>call-start</c>: FreeSWITCH took the caller's originate (<paramref name="ByReply"/>: its +OK said so).</summary>
public sealed record CallStarted(bool ByReply) : CallEvent;

public sealed record SideAnswered(int Side) : CallEvent;

/// <summary><c>hangup-event</c>; <paramref name="WasAnswered"/>: the side's ACTIVE entry goes with it.</summary>
public sealed record SideHungUp(int Side, string Cause, bool WasAnswered) : CallEvent;

/// <summary>The call was never placed: <c>failure</c> with <paramref name="Cause"/>.</summary>
public sealed record CallFailed(string Cause, bool LinkLost) : CallEvent;

/// <summary>An ack (<see cref="Cause"/> null) or a failure for one control message.</summary>
public sealed record ControlReply(string Type, ReplyKind Kind, string? Cause, string? Id, long ReceivedAt);

public enum ReplyKind { Ack, Failure, Invalid }

public enum JobSettlement
{
    /// <summary>FreeSWITCH took or refused the originate: the job is done.</summary>
    Done,
    /// <summary>It cannot be known whether FreeSWITCH had it: the job goes to the dead-letter list.</summary>
    LinkLost,
    /// <summary>Nothing went out: the job goes back to the list untouched.</summary>
    NotSent,
}

/// <summary><paramref name="Result"/>: the calls_total label (connected, caller_*, callee_*, failed).</summary>
public sealed record CallSummary(string Result, string Sides, bool Silent);

/// <summary>What the machine sends on the caller's outbound socket.</summary>
public abstract record SocketCommand;

/// <summary><c>linger</c>, <c>event plain …</c> and one <c>filter Unique-ID</c> per uuid: the socket reports the call's legs.</summary>
public sealed record SubscribeLegs(IReadOnlyList<string> Uuids) : SocketCommand;

public sealed record FilterLeg(string Uuid) : SocketCommand;

/// <summary><c>sendmsg</c> hangup of the caller's leg.</summary>
public sealed record HangupCaller(string Cause) : SocketCommand;

/// <summary><c>sendmsg</c> execute bridge to the callee.</summary>
public sealed record BridgeCallee(string DialString) : SocketCommand;

/// <summary><c>exit</c>, then the socket is closed.</summary>
public sealed record ExitSocket : SocketCommand;
