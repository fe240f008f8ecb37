namespace Redswitch.Simulator;

/// <summary>
/// How a simulated phone reacts when it is dialled. The built-in behaviours follow SPEC §9 (last three digits
/// of the number); tests can override them per number with <see cref="SimulatorHost.SetBehaviour"/>.
/// </summary>
public sealed record PhoneBehaviour
{
    /// <summary>When set, the phone refuses at once with this hangup cause (no ringing), e.g. <c>USER_BUSY</c>.</summary>
    public string? RejectCause { get; init; }

    /// <summary>Whether the phone signals ringing (CHANNEL_PROGRESS) before answering or giving up.</summary>
    public bool Rings { get; init; } = true;

    /// <summary>Delay before the phone answers; null means it never answers.</summary>
    public TimeSpan? AnswerAfter { get; init; }

    /// <summary>For a phone that never answers: it stops ringing with <see cref="GiveUpCause"/> after this long; null = rings until the caller's timeout.</summary>
    public TimeSpan? GiveUpAfter { get; init; }

    /// <summary>Cause used when the phone gives up ringing.</summary>
    public string GiveUpCause { get; init; } = "NO_ANSWER";

    /// <summary>After answering, the phone hangs up by itself after this long; null = stays up until hung up.</summary>
    public TimeSpan? HangupAfter { get; init; }

    /// <summary>Cause used when the phone hangs up by itself.</summary>
    public string HangupCause { get; init; } = "NORMAL_CLEARING";

    public static PhoneBehaviour Busy { get; } = new() { RejectCause = "USER_BUSY", Rings = false };
    public static PhoneBehaviour Rejected { get; } = new() { RejectCause = "CALL_REJECTED", Rings = false };
    public static PhoneBehaviour Unallocated { get; } = new() { RejectCause = "UNALLOCATED_NUMBER", Rings = false };

    /// <summary>Rings and never answers; gives up with NO_ANSWER after <paramref name="ringTime"/> (null: rings until the caller's timeout).</summary>
    public static PhoneBehaviour NoAnswer(TimeSpan? ringTime) => new() { GiveUpAfter = ringTime };

    /// <summary>Rings for <paramref name="delay"/>, answers and stays up.</summary>
    public static PhoneBehaviour AnswerAfterDelay(TimeSpan delay) => new() { AnswerAfter = delay };

    /// <summary>Answers at once and hangs up after <paramref name="after"/> with NORMAL_CLEARING.</summary>
    public static PhoneBehaviour AnswerThenHangup(TimeSpan after) => new() { Rings = false, AnswerAfter = TimeSpan.Zero, HangupAfter = after };
}
