using Redswitch.Calls.FreeSwitch;

namespace Redswitch.Calls;

/// <summary>Everything that can happen to a call, as the call machine sees it. The adapter turns ESL and Redis input into these.</summary>
public abstract record CallInput;

/// <summary>Dial the caller: <c>bgapi originate</c> on the control link.</summary>
public sealed record StartCall : CallInput;

/// <summary>FreeSWITCH's reply to a command the machine sent (<see cref="Correlation"/> from the effect).</summary>
public sealed record CommandReplied(long Correlation, FsReply Reply) : CallInput
{
    /// <summary>With a lost reply: the control link is already up again (the reply of a command queued as the
    /// connection closed can come after the reconnect), so the leg can be checked at once.</summary>
    public bool LinkAlreadyBack { get; init; }
}

/// <summary>The BACKGROUND_JOB of an originate the machine sent.</summary>
public sealed record BackgroundJobDone(long Correlation, FsJobResult Result) : CallInput;

/// <summary>The caller's leg connected to our outbound server (its <c>connect</c> was answered).</summary>
public sealed record SocketConnected : CallInput;

/// <summary>The outbound socket closed, whoever closed it.</summary>
public sealed record SocketClosed : CallInput;

/// <summary>A channel event of one of the call's legs, from its socket or from the control link.</summary>
public sealed record LegEvent(string Uuid, LegEventKind Kind, bool FromSocket) : CallInput
{
    /// <summary><c>Hangup-Cause</c> (hangups, bridge ended).</summary>
    public string? Cause { get; init; }
    /// <summary><c>variable_originate_failed_cause</c> (hangup complete, bridge ended).</summary>
    public string? OriginateFailedCause { get; init; }
    /// <summary>Hangup complete: <c>Caller-Channel-Answered-Time</c> was set, the leg had answered.</summary>
    public bool HadAnswered { get; init; }
    /// <summary>Execute complete: the application was <c>bridge</c>.</summary>
    public bool BridgeEnded { get; init; }
    /// <summary>DTMF: the digit, 0–9 only (others are ignored).</summary>
    public int? Digit { get; init; }
    /// <summary>DTMF: <c>DTMF-Source: APP</c>, our own <c>uuid_recv_dtmf</c> coming back.</summary>
    public bool DigitFromApp { get; init; }
}

public enum LegEventKind
{
    /// <summary>CHANNEL_CREATE, PROGRESS, PROGRESS_MEDIA, EXECUTE, BRIDGE, UNBRIDGE: only that the channel exists.</summary>
    Exists,
    Answer,
    Hangup,
    HangupComplete,
    ExecuteComplete,
    Dtmf,
    /// <summary>Any other event of the leg: it proves only that FreeSWITCH has the leg.</summary>
    Other,
}

/// <summary>The control link is authenticated again after a loss; <paramref name="FreeswitchRestarted"/>: the node lost every channel.</summary>
public sealed record LinkRestored(bool FreeswitchRestarted) : CallInput;

/// <summary>A message published on the call's channel (parsed, or found invalid).</summary>
public sealed record ControlReceived(ControlMessage Message, long ReceivedAt) : CallInput;

/// <summary>A timer the machine set (<see cref="ICallEffects.SetTimer"/>) fired.</summary>
public sealed record TimerFired(CallTimer Timer) : CallInput;

/// <summary>Graceful stop after DRAIN_TIMEOUT: hang up whatever is left with MANAGER_REQUEST (SPEC §8).</summary>
public sealed record Drain(bool LinkUp) : CallInput;

/// <summary>FreeSWITCH cannot be reached at exit: every side still ends in Redis with <paramref name="Cause"/>.</summary>
public sealed record ForceEnd(string Cause) : CallInput;

/// <summary>Nothing was sent (the dispatcher gave the job back before the originate): forget the call without a word.</summary>
public sealed record Abandon : CallInput;

/// <summary>
/// The call was taken over from its state hash (<see cref="CallMachine.Resumed"/>): follow its legs, ask FreeSWITCH
/// where each one is, publish what nobody published meanwhile (SPEC §8.1 "Resume"). <paramref name="NodeRestarted"/>:
/// the node answers with another Core-UUID, every leg is gone. <paramref name="GraceLeft"/>: for a call that had ended,
/// how long its channel still answers.
/// </summary>
public sealed record ResumeCall(bool NodeRestarted, TimeSpan GraceLeft) : CallInput;
