namespace Redswitch.Calls;

/// <summary>Where a leg is, as published on the channel: one answer-event and one hangup-event at most.</summary>
public enum LegPhase
{
    /// <summary>Not dialled (or its originate was refused).</summary>
    Idle,
    Ringing,
    Answered,
    /// <summary>Hung up without answering (hangup-event published, no answer-event).</summary>
    Missed,
    /// <summary>Hung up after answering.</summary>
    HungUp,
}

/// <summary>Whether FreeSWITCH has taken the leg's originate. Until it has, the leg's events wait (call-start or the barge ack go first).</summary>
public enum LegOrigin
{
    AwaitingReply,
    /// <summary>The link dropped before the reply: FreeSWITCH may or may not have the leg.</summary>
    ReplyLost,
    Accepted,
    /// <summary>Refused, or lost with the link and not there: the leg never rang.</summary>
    NotPlaced,
    /// <summary>
    /// Its fate stayed unknown until its deadline and its job was given up (failure published, dead-lettered); a node that
    /// stalled may still run the originate it had received: if the leg shows up, it is hung up at once and its side
    /// gets one hangup-event (SPEC §4).
    /// </summary>
    GivenUp,
}

/// <summary>What FreeSWITCH has reported of the leg's channel.</summary>
public enum LegChannel
{
    NotSeen,
    Seen,
    /// <summary>CHANNEL_HANGUP_COMPLETE (or FreeSWITCH said it is gone): nothing more will come of it.</summary>
    Destroyed,
}

/// <summary>One leg of the call: caller (side 0), callee (side 1), or a barger (side 2).</summary>
internal sealed class Leg(int id, int side, string uuid, LegOrigin origin)
{
    /// <summary>0 caller, 1 callee, 2+ the barge legs in order (names the leg's timers).</summary>
    public int Id { get; } = id;
    public int Side { get; } = side;
    public string Uuid { get; } = uuid;
    public LegPhase Phase { get; set; }
    public LegOrigin Origin { get; set; } = origin;
    public LegChannel Channel { get; set; }
    /// <summary>A hang-up of this leg went out (uuid_kill or the socket's sendmsg).</summary>
    public bool HangupSent { get; set; }
    /// <summary>The control link has a filter for this leg.</summary>
    public bool Followed { get; set; }
    public string? Cause { get; set; }
    /// <summary>Events that overtook the originate's reply, published once it is accepted (answer first).</summary>
    public bool DeferredAnswer { get; set; }
    public string? DeferredHangup { get; set; }
    /// <summary>The barge message that dialled this leg, answered once FreeSWITCH accepted the originate.</summary>
    public PendingControl? Request { get; set; }

    public bool Dialled => Phase != LegPhase.Idle;
    public bool Alive => Phase is LegPhase.Ringing or LegPhase.Answered;
    public bool AnswerPublished => Phase is LegPhase.Answered or LegPhase.HungUp;
    public bool HangupPublished => Phase is LegPhase.Missed or LegPhase.HungUp;
    public bool Seen => Channel != LegChannel.NotSeen;
    public bool Complete => Channel == LegChannel.Destroyed;
    public bool Unconfirmed => Origin == LegOrigin.ReplyLost;
    public bool Ready => Origin == LegOrigin.Accepted;

    public CallTimer Timer(TimerKind kind) => new(kind, Id);

    public override string ToString() => $"leg {Id} side {Side} {Uuid} {Phase}/{Origin}/{Channel}";
}

/// <summary>A control message waiting for FreeSWITCH (a barge's originate, a mode change's DTMF).</summary>
internal sealed record PendingControl(string Type, string? Id, long ReceivedAt, BargeMode.Change? Change = null);
