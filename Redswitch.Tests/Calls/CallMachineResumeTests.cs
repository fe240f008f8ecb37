using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using static Redswitch.Tests.Calls.CallDriver;

namespace Redswitch.Tests.Calls;

/// <summary>A call taken over from its state hash (SPEC §8.1 "Resume"): what is published, what FreeSWITCH is sent.</summary>
public class CallMachineResumeTests
{
    private static CallSnapshot Snapshot(bool started = true, bool[]? answered = null, bool[]? hungUp = null, string? barge = null, int mode = 0,
        int before = 0, long? endedAt = null) =>
        new(Caller, Callee, SecondBarger, barge, started, answered ?? [true, true, false], hungUp ?? [false, false, false], mode, before, endedAt);

    private static CallDriver Resume(CallSnapshot s, bool nodeRestarted = false, TimeSpan? graceLeft = null) =>
        new CallDriver(s).Handle(new ResumeCall(nodeRestarted, graceLeft ?? TimeSpan.Zero));

    private static FsReply Dumped(string answerState) => new(FsOutcome.Accepted, answerState);

    [Test]
    public void AnAnsweredCallIsFollowedAskedForAndThenObeysAHangupOnTheControlLink()
    {
        var d = Resume(Snapshot());
        Assert.That(d.Fx.All.OfType<Followed>().Select(f => f.Uuid), Is.EqualTo(new[] { Caller, Callee }));
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidDump(Caller), new UuidDump(Callee) }));
        Assert.That(d.Fx.Settlements, Is.Empty, "the claim settled the job");
        d.ReplyTo<UuidDump>(Caller, Dumped("answered")).ReplyTo<UuidDump>(Callee, Dumped("answered"));
        Assert.That(d.Fx.Events, Is.Empty, "both answers were published by the first owner");

        d.Control("""{"type": "hangup", "id": 7}""");
        var kills = d.Fx.All.OfType<ApiSent>().Where(a => a.Command is UuidKill).ToList();
        Assert.That(kills.Select(k => k.Command), Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "NORMAL_CLEARING"), new UuidKill(Callee, "NORMAL_CLEARING") }));
        Assert.That(kills.All(k => !k.ViaSocket), Is.True, "no socket: the control link");
        d.ReplyTo<UuidKill>(Caller, FsReply.Ok).ReplyTo<UuidKill>(Callee, FsReply.Ok);
        Assert.That(d.Fx.Replies.Single().Kind, Is.EqualTo(ReplyKind.Ack));

        d.HangupComplete(Caller, fromSocket: false).HangupComplete(Callee, fromSocket: false);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new SideHungUp(0, "NORMAL_CLEARING", true), new SideHungUp(1, "NORMAL_CLEARING", true) }));
        Assert.That(d.Machine.IsEnded, Is.True);
        d.Fire(TimerKind.Release);
        Assert.That(d.Fx.All.TakeLast(2), Is.EqualTo(new Effect[] { new StateDeleted(), new Released() }));
    }

    [Test]
    public void WhatHappenedWhileNobodyOwnedTheCallIsPublishedOnce()
    {
        // The callee answered and the caller hung up while nobody owned the call.
        var d = Resume(Snapshot(answered: [true, false, false]));
        d.ReplyTo<UuidDump>(Caller, FsReply.Gone).ReplyTo<UuidDump>(Callee, Dumped("answered"));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new SideAnswered(1) }), "the gone caller waits for the grace: its real cause may still come");
        d.Fire(TimerKind.GoneGrace, 0);
        Assert.That(d.Fx.Events.Skip(1), Is.EqualTo(new CallEvent[] { new SideHungUp(0, "NORMAL_UNSPECIFIED", true) }));
        // FreeSWITCH's own end of the callee (hangup_after_bridge) comes on the control link.
        d.HangupComplete(Callee, "NORMAL_CLEARING", fromSocket: false);
        Assert.That(d.Fx.Events.Count(e => e is SideHungUp), Is.EqualTo(2));
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void ALegWhoseHangupCompleteComesBeforeItsDumpEndsOnceWithTheRealCause()
    {
        var d = Resume(Snapshot());
        d.HangupComplete(Callee, "USER_BUSY", fromSocket: false);
        d.ReplyTo<UuidDump>(Callee, FsReply.Gone);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Where(h => h.Side == 1).Select(h => h.Cause), Is.EqualTo(new[] { "USER_BUSY" }));
    }

    [Test]
    public void ANodeThatRestartedEndsEverySideWithSystemShutdown()
    {
        var d = Resume(Snapshot(barge: Barger, answered: [true, true, true]), nodeRestarted: true);
        Assert.That(d.Fx.ApiCommands, Is.Empty, "nothing to ask a node that lost every channel");
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Select(h => (h.Side, h.Cause)),
            Is.EquivalentTo(new[] { (0, "SYSTEM_SHUTDOWN"), (1, "SYSTEM_SHUTDOWN"), (2, "SYSTEM_SHUTDOWN") }));
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void ABargeTakenOverInThreewayReturnsOnUnthreewayToTheModeTheFirstOwnerConfirmed()
    {
        var d = Resume(Snapshot(barge: Barger, answered: [true, true, true], mode: 3, before: 2));
        d.ReplyAll(Dumped("answered"));
        d.Control("""{"type": "unthreeway", "id": 1}""");
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidRecvDtmf(Barger, "2")), "back to whisper");
        d.ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
        Assert.That(d.Fx.Replies.Last().Kind, Is.EqualTo(ReplyKind.Ack));
        Assert.That(d.Fx.All.OfType<StateSaved>().Last().Fields, Is.EqualTo(new[] { ("mode", "2"), ("mode_before", "2") }));

        d.Control("""{"type": "threeway"}""").ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
        d.Control("""{"type": "unthreeway"}""");
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidRecvDtmf(Barger, "2")));
        d.Control("""{"type": "barge", "phone_number": "15105625884"}""");
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(new ControlReply("barge", ReplyKind.Failure, "barge already active", null, d.Fx.Replies.Last().ReceivedAt)));
    }

    [Test]
    public void AFinishedBargeIsNotFollowedAndANewBargeGetsTheNextUuid()
    {
        var d = Resume(Snapshot(barge: Barger, answered: [true, true, true], hungUp: [false, false, true]));
        Assert.That(d.Fx.All.OfType<Followed>().Select(f => f.Uuid), Is.EqualTo(new[] { Caller, Callee }));
        d.ReplyAll(Dumped("answered"));
        d.Control(BargeMsg("b"));
        var originate = d.Fx.All.OfType<BgApiSent>().Single().Command.Line;
        Assert.That(originate, Does.Contain("origination_uuid=" + SecondBarger).And.Contain("eavesdrop(" + Caller + ")"));
    }

    [Test]
    public void AnEndedCallInItsGraceRefusesControlMessagesUntilTheGraceIsOver()
    {
        var d = Resume(Snapshot(hungUp: [true, true, false], endedAt: 1), graceLeft: TimeSpan.FromSeconds(42));
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.Release)), Is.EqualTo(TimeSpan.FromSeconds(42)));
        Assert.That(d.Fx.ApiCommands, Is.Empty);
        d.Control("""{"type": "hangup", "id": 3}""");
        Assert.That(d.Fx.Replies.Single().Cause, Is.EqualTo("call ended"));
        Assert.That(d.Fx.Events, Is.Empty);
        d.Fire(TimerKind.Release);
        Assert.That(d.Fx.All.TakeLast(2), Is.EqualTo(new Effect[] { new StateDeleted(), new Released() }));
    }

    [Test]
    public void ACallWhoseStartWasNeverPublishedIsConfirmedByItsCallersLeg()
    {
        var d = Resume(Snapshot(started: false, answered: [false, false, false]));
        Assert.That(d.Machine.Phase, Is.EqualTo(CallPhase.Originating));
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidExists(Caller) }));
        d.ReplyTo<UuidExists>(Caller, new FsReply(FsOutcome.Accepted, "true"));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false) }));
        Assert.That(d.Fx.Settlements, Is.Empty);
        // The caller answers: its socket names the dead owner, so FreeSWITCH hangs it up.
        d.Answer(Caller, fromSocket: false).HangupComplete(Caller, "NORMAL_TEMPORARY_FAILURE", fromSocket: false);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Single(), Is.EqualTo(new SideHungUp(0, "NORMAL_TEMPORARY_FAILURE", true)));
        Assert.That(d.Machine.IsEnded, Is.True);
    }
}
