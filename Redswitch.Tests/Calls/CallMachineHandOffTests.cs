using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using static Redswitch.Tests.Calls.CallDriver;

namespace Redswitch.Tests.Calls;

/// <summary>
/// When a call may change hands at a graceful stop (SPEC §8 "Graceful stop", §8.1 "Release"): bridged or over, with
/// nothing in flight. Anything else is still being set up and is served by its owner until it is one of these.
/// </summary>
public class CallMachineHandOffTests
{
    [Test]
    public void ACallBeingSetUpIsNotHandedOffUntilTheCalleeAnswered()
    {
        var d = new CallDriver();
        Assert.That(d.Machine.CanHandOff, Is.False, "new");
        d.Start();
        Assert.That(d.Machine.CanHandOff, Is.False, "originate out, no reply");
        d.ReplyOriginate(FsReply.Ok);
        Assert.That(d.Machine.CanHandOff, Is.False, "the caller rings (its BACKGROUND_JOB is due)");
        d.JobDone(Answered);
        Assert.That(d.Machine.CanHandOff, Is.False, "the caller answered; its socket is due");
        d.Connect();
        Assert.That(d.Machine.CanHandOff, Is.False, "the bridge's reply is due");
        d.ReplyToSocket<BridgeCallee>(FsReply.Ok).Event(Callee, LegEventKind.Exists);
        Assert.That(d.Machine.CanHandOff, Is.False, "the callee rings");
        d.Answer(Callee);
        Assert.That(d.Machine.CanHandOff, Is.True, "bridged, nothing in flight");
    }

    [Test]
    public void ACommandInFlightHoldsTheHandOffUntilItsReply()
    {
        var d = new CallDriver().BargedCall();
        Assert.That(d.Machine.CanHandOff, Is.True, "bridged with an answered barger");
        d.Control(Msg("whisper", "w1"));
        Assert.That(d.Machine.CanHandOff, Is.False, "the whisper's DTMF is out: its ack and the mode would be lost");
        d.ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
        Assert.That(d.Machine.CanHandOff, Is.True);
        Assert.That((d.Fx.Replies.Last().Type, d.Fx.Replies.Last().Kind, d.Fx.Replies.Last().Id), Is.EqualTo(("whisper", ReplyKind.Ack, "w1")));
    }

    [Test]
    public void ABargeOriginateHoldsTheHandOffUntilFreeSwitchTookItThenTheRingingBargerGoesWithTheCall()
    {
        var d = new CallDriver().AnsweredCall().Control(BargeMsg("b1"));
        Assert.That(d.Machine.CanHandOff, Is.False, "the barge originate is out: its ack is due");
        d.ReplyOriginate(FsReply.Ok, Barger);
        Assert.That((d.Fx.Replies.Single().Type, d.Fx.Replies.Single().Kind, d.Fx.Replies.Single().Id), Is.EqualTo(("barge", ReplyKind.Ack, "b1")));
        Assert.That(d.Machine.CanHandOff, Is.True, "the barger rings: a new owner follows the leg (its BACKGROUND_JOB brings nothing more)");
        d.Control(Msg("whisper", "w1"));
        Assert.That(d.Machine.CanHandOff, Is.False, "a mode change waits for the barger's answer");
        d.Answer(Barger);
        Assert.That(d.Machine.CanHandOff, Is.False, "the whisper's DTMF is out");
        d.ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
        Assert.That(d.Machine.CanHandOff, Is.True);
    }

    [Test]
    public void AHangupUnderWayHoldsTheHandOffAndTheEndedCallMayGoForItsGrace()
    {
        var d = new CallDriver().AnsweredCall().Control(Msg("hangup", "h1"));
        Assert.That(d.Machine.CanHandOff, Is.False, "the kills are out");
        d.ReplyAll(FsReply.Ok);
        Assert.That(d.Machine.CanHandOff, Is.False, "hung up, the legs' ends not yet seen");
        d.HangupComplete(Caller).HangupComplete(Callee);
        Assert.That(d.Machine.IsEnded, Is.True);
        d.ReplyAll(FsReply.Ok);
        Assert.That(d.Machine.CanHandOff, Is.True, "over: its grace is handed on (late messages still get their failure)");
    }
}
