namespace Redswitch.Calls.FreeSwitch;

/// <summary>What FreeSWITCH's reply to a command means to the call (classified from the wire text in one place, the server's <c>FsReplies</c>).</summary>
public enum FsOutcome
{
    /// <summary><c>+OK</c> (for <c>uuid_exists</c>: <c>true</c>).</summary>
    Accepted,
    /// <summary>The channel is not there (<c>-ERR No such channel!</c>; for <c>uuid_exists</c>: <c>false</c>).</summary>
    NoSuchChannel,
    /// <summary>Any other answer: FreeSWITCH did not do it; <see cref="FsReply.Text"/> says why.</summary>
    Refused,
    /// <summary>The connection closed before the reply came: FreeSWITCH may or may not have run the command.</summary>
    LinkLost,
}

public readonly record struct FsReply(FsOutcome Outcome, string Text = "")
{
    public static readonly FsReply Ok = new(FsOutcome.Accepted, "+OK");
    public static readonly FsReply Lost = new(FsOutcome.LinkLost);
    public static readonly FsReply Gone = new(FsOutcome.NoSuchChannel, "-ERR No such channel!");
    public static FsReply Refused(string text) => new(FsOutcome.Refused, text);

    public bool Arrived => Outcome != FsOutcome.LinkLost;
}

/// <summary>What a BACKGROUND_JOB says of an originate.</summary>
public enum FsJobOutcome
{
    /// <summary><c>+OK &lt;uuid&gt;</c>: the leg answered.</summary>
    Answered,
    /// <summary><c>-ERR &lt;hangup cause&gt;</c>: the leg ended without answering (busy, no answer, …).</summary>
    HungUp,
    /// <summary>Any other text: the originate itself failed.</summary>
    Failed,
}

/// <summary>A BACKGROUND_JOB's result: <see cref="Detail"/> is the hangup cause, or the text of a failure.</summary>
public readonly record struct FsJobResult(FsJobOutcome Outcome, string Detail = "");
