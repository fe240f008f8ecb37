using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using static Redswitch.Tests.Calls.CallDriver;

namespace Redswitch.Tests.Calls;

/// <summary>
/// The decisions of <see cref="CallMachine"/>, scenario by scenario: what the end-to-end CallFlowTests, LinkLossTests
/// and BargeModeTests pin through Redis and the simulator, here on the machine alone (no sockets, no clock).
/// </summary>
[Parallelizable(ParallelScope.All)]
public class CallMachineTests
{
    private static ControlReply Ack(string type, string? id, long receivedAt) => new(type, ReplyKind.Ack, null, id, receivedAt);
    private static ControlReply Failure(string type, string cause, string? id, long receivedAt) => new(type, ReplyKind.Failure, cause, id, receivedAt);

    private static List<T> Of<T>(IEnumerable<Effect> effects) => effects.OfType<T>().ToList();

    /// <summary>The deadline of a leg whose originate reply was lost, while the node cannot be asked: put off ten times, then given up.</summary>
    private static CallDriver GiveUpWhileTheNodeCannotBeAsked(CallDriver d, int leg = 0)
    {
        for (var i = 0; i < 10; i++)
        {
            d.Fire(TimerKind.GiveUpLeg, leg);
            Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, leg)), Is.True, $"deadline {i + 1}: put off while the node cannot be asked");
            Assert.That(d.Fx.Events.OfType<CallFailed>(), Is.Empty, $"deadline {i + 1}: no failure yet");
        }
        return d.Fire(TimerKind.GiveUpLeg, leg);
    }

    private static void AssertNothingLeft(CallDriver d)
    {
        Assert.Multiple(() =>
        {
            Assert.That(d.Machine.IsEnded, Is.True, "ended");
            Assert.That(d.Machine.Outstanding, Is.Zero, "no command in flight");
            Assert.That(d.Fx.StillFollowed(), Is.Empty, "every Follow matched by an Unfollow");
            Assert.That(d.Fx.StillClaimed(), Is.Empty, "every Claim matched by an Unclaim");
            Assert.That(d.Fx.Endings.Count(), Is.EqualTo(1), "Ended once");
        });
    }

    // ------------------------------------------------------------------ the normal call

    [Test]
    public void HappyPath_StartAnswerBridgeHangup()
    {
        var d = new CallDriver().Start();
        Assert.That(d.Fx.All.Take(3), Is.EqualTo(new Effect[] { new Claimed(Caller), new Claimed(Callee), new Claimed(Barger) }));
        var bg = d.Fx.All.OfType<BgApiSent>().Single();
        Assert.That(bg.Command.Line, Does.StartWith("originate {origination_uuid=uuid-0,dial_id=d1,call-side=0,org_id=o1,user_id=u1,loopback_bowout=false,origination_caller_id_number=15105550100,"));
        Assert.That(bg.Command.Line, Does.EndWith("}sofia/gateway/p1/15105625882 &socket('127.0.0.1:8084 async full')"));
        Assert.That(d.Fx.Events, Is.Empty, "nothing before FreeSWITCH takes the originate");
        Assert.That(d.Machine.Phase, Is.EqualTo(CallPhase.Originating));

        d.ReplyOriginate(FsReply.Ok);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(ByReply: true) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(d.Fx.All.OfType<StateSaved>(), Is.Empty, "the state hash was written before the originate");
        Assert.That(d.Machine.InitialState(), Is.EqualTo(new[] { ("org_id", "o1"), ("user_id", "u1"), ("call_provider", "p1"), ("uuid_0", Caller), ("uuid_1", Callee), ("barge_next", Barger) }));

        d.JobDone(Answered);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(0)));
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.SocketLate)), Is.EqualTo(TimeSpan.FromSeconds(1)));

        var mark = d.Mark;
        d.Connect();
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketLate)), Is.False, "the socket came in time");
        var sent = Of<SocketSent>(d.Fx.Since(mark));
        Assert.That(sent, Has.Count.EqualTo(2));
        Assert.That(((SubscribeLegs)sent[0].Command).Uuids, Is.EqualTo(new[] { Caller, Callee, Barger }));
        Assert.That(((BridgeCallee)sent[1].Command).DialString, Is.EqualTo(
            "{origination_uuid=uuid-1,dial_id=d1,call-side=1,org_id=o1,user_id=u1,loopback_bowout=false,origination_caller_id_number=15105550101,leg_timeout=45}sofia/gateway/p1/15105625883"));
        Assert.That(d.Fx.Events.Count(), Is.EqualTo(2), "the socket does not answer side 0 twice");
        d.ReplyToSocket<BridgeCallee>(FsReply.Ok);

        d.Event(Callee, LegEventKind.Exists).Answer(Callee);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true), new SideAnswered(0), new SideAnswered(1) }));

        mark = d.Mark;
        d.Control("""{"type": "hangup", "id": "h"}""");
        var kills = Of<ApiSent>(d.Fx.Since(mark));
        Assert.That(kills.Select(k => k.Command), Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "NORMAL_CLEARING"), new UuidKill(Callee, "NORMAL_CLEARING") }));
        Assert.That(kills.All(k => k.ViaSocket), Is.True, "uuid_kill goes on the socket while it is up");
        Assert.That(d.Fx.Replies, Is.Empty, "acked once FreeSWITCH answers");

        d.ReplyTo<UuidKill>(Caller, FsReply.Ok);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("hangup", "\"h\"", 1) }));
        d.ReplyTo<UuidKill>(Callee, FsReply.Ok);
        Assert.That(d.Fx.Replies.Count(), Is.EqualTo(1), "one ack for the hangup");

        d.Hangup(Caller).HangupComplete(Caller).Hangup(Callee).HangupComplete(Callee);
        Assert.That(d.Fx.Events.Skip(3), Is.EqualTo(new CallEvent[] { new SideHungUp(0, "NORMAL_CLEARING", true), new SideHungUp(1, "NORMAL_CLEARING", true) }));
        Assert.That(d.Fx.Endings.Single(), Is.EqualTo(new CallSummary("connected", "side 0 answered, NORMAL_CLEARING, side 1 answered, NORMAL_CLEARING", false)));
        Assert.That(d.Fx.All.OfType<StateDeleted>(), Is.Empty, "the state hash stays for the grace (a take-over still answers)");
        // exit goes out once every channel is complete, at the latest after SOCKET_LINGER
        if (d.Fx.IsArmed(new CallTimer(TimerKind.SocketLinger))) d.Fire(TimerKind.SocketLinger);
        Assert.That(d.Fx.SocketCommands.OfType<ExitSocket>().Count(), Is.EqualTo(1));
        d.CloseSocket();
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.Release)), Is.EqualTo(TimeSpan.FromSeconds(60)));
        d.Fire(TimerKind.Release);
        Assert.That(d.Fx.All[^1], Is.EqualTo(new Released()));
        Assert.That(d.Fx.Events.Count(), Is.EqualTo(5), "nothing after the end");
        AssertNothingLeft(d);
    }

    [Test]
    public void SocketBeforeBackgroundJob_AnswersSideZeroOnce()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).Connect().JobDone(Answered);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true), new SideAnswered(0) }));
        Assert.That(d.Fx.All.OfType<TimerSet>().Where(t => t.Timer.Kind == TimerKind.SocketLate), Is.Empty, "no socket is awaited once it is here");
    }

    [TestCase("USER_BUSY")]
    [TestCase("NO_ANSWER")]
    public void CalleeNeverAnswers_TakesTheCallerDownWithItsCause(string cause)
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Connect();
        d.Event(Callee, LegEventKind.Exists);
        var mark = d.Mark;
        d.Hangup(Callee, cause);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(1, cause, false)));
        Assert.That(Of<SocketSent>(d.Fx.Since(mark)).Select(s => s.Command), Is.EqualTo(new SocketCommand[] { new HangupCaller(cause) }), "the parked caller is hung up on its socket");
        d.BridgeEnded(cause).HangupComplete(Callee, cause, hadAnswered: false);
        Assert.That(d.Fx.SocketCommands.OfType<HangupCaller>().Count(), Is.EqualTo(1), "the bridge's end does not hang up the caller again");
        d.Hangup(Caller, cause).HangupComplete(Caller, cause);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true), new SideAnswered(0), new SideHungUp(1, cause, false), new SideHungUp(0, cause, true) }));
        Assert.That(d.Fx.Endings.Single().Result, Is.EqualTo("callee_" + cause.ToLowerInvariant()));
        if (d.Fx.IsArmed(new CallTimer(TimerKind.SocketLinger))) d.Fire(TimerKind.SocketLinger);
        Assert.That(d.Fx.SocketCommands.OfType<ExitSocket>().Count(), Is.EqualTo(1), "exit, at the latest after SOCKET_LINGER");
        d.CloseSocket();
        AssertNothingLeft(d);
    }

    [Test]
    public void EveryChannelCompleteWhenTheLastSideEnds_ExitAtOnce()
    {
        var d = new CallDriver().AnsweredCall();
        d.Hangup(Callee).HangupComplete(Callee).HangupComplete(Caller);
        Assert.That(d.Fx.SocketCommands.Last(), Is.EqualTo(new ExitSocket()));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketLinger)), Is.False);
        Assert.That(d.Machine.AcceptsSocket, Is.False);
        d.CloseSocket();
        Assert.That(d.Fx.ApiCommands, Is.Empty, "an exit we sent is no drop: nothing followed");
        AssertNothingLeft(d);
    }

    [Test]
    public void LastSideEndsBeforeItsChannel_LingersThenExits()
    {
        var d = new CallDriver().AnsweredCall();
        d.Hangup(Callee).Hangup(Caller);
        Assert.That(d.Machine.Socket, Is.EqualTo(SocketState.Lingering));
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.SocketLinger)), Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(d.Fx.SocketCommands.OfType<ExitSocket>(), Is.Empty);
        d.Fire(TimerKind.SocketLinger);
        Assert.That(d.Fx.SocketCommands.Last(), Is.EqualTo(new ExitSocket()));
        Assert.That(d.Machine.Socket, Is.EqualTo(SocketState.Exiting));
    }

    [Test]
    public void LingeringSocket_ExitsOnceTheLastChannelCompletes()
    {
        var d = new CallDriver().AnsweredCall();
        d.Hangup(Caller).HangupComplete(Caller).Hangup(Callee);
        Assert.That(d.Machine.Socket, Is.EqualTo(SocketState.Lingering));
        Assert.That(d.Fx.SocketCommands.OfType<ExitSocket>(), Is.Empty);
        d.HangupComplete(Callee);
        Assert.That(d.Fx.SocketCommands.OfType<ExitSocket>().Count(), Is.EqualTo(1), "no need to wait for SOCKET_LINGER");
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketLinger)), Is.False);
        Assert.That(d.Machine.Socket, Is.EqualTo(SocketState.Exiting));
    }

    [Test]
    public void CalleeChannelNeverAppears_BridgeFailureCauseEndsBothSides()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Connect();
        d.BridgeEnded("NORMAL_CLEARING", originateFailedCause: "USER_BUSY");
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(1, "USER_BUSY", false)));
        Assert.That(d.Fx.SocketCommands.OfType<HangupCaller>().ToList(), Is.EqualTo(new[] { new HangupCaller("USER_BUSY") }));
        d.Hangup(Caller, "USER_BUSY");
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(0, "USER_BUSY", true)));
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void CalleeHangsUpAfterAnswering()
    {
        var d = new CallDriver().AnsweredCall();
        d.Hangup(Callee);
        Assert.That(d.Fx.SocketCommands.Last(), Is.EqualTo(new HangupCaller("NORMAL_CLEARING")));
        d.Hangup(Caller);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[]
        {
            new CallStarted(true), new SideAnswered(0), new SideAnswered(1), new SideHungUp(1, "NORMAL_CLEARING", true), new SideHungUp(0, "NORMAL_CLEARING", true),
        }));
        Assert.That(d.Fx.Endings.Single().Result, Is.EqualTo("connected"));
    }

    [Test]
    public void CallerDoesNotAnswer()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(HungUp("NO_ANSWER"));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true), new SideHungUp(0, "NO_ANSWER", false) }));
        Assert.That(d.Fx.Endings.Single(), Is.EqualTo(new CallSummary("caller_no_answer", "side 0 NO_ANSWER", false)));
        Assert.That(d.Fx.ApiCommands, Is.Empty);
        AssertNothingLeft(d);
    }

    [Test]
    public void CallerRefused_FailsAndSettlesDone()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Refused("-ERR INVALID_PROFILE_NAME"));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("-ERR INVALID_PROFILE_NAME", false) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(d.Fx.Endings.Single().Result, Is.EqualTo("failed"));
        Assert.That(d.Fx.All.OfType<StateDeleted>(), Is.Empty, "the state hash stays until the grace ends");
        d.JobDone(new FsJobResult(FsJobOutcome.Failed, "-ERR INVALID_PROFILE_NAME"));
        Assert.That(d.Fx.Events.Count(), Is.EqualTo(1));
        AssertNothingLeft(d);
    }

    [Test]
    public void LinkDownAtStart_NothingSentJobGoesBack()
    {
        var d = new CallDriver();
        d.Fx.LinkUp = false;
        d.Start();
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.NotSent }));
        Assert.That(d.Fx.Endings.Single().Silent, Is.True);
        Assert.That(d.Fx.Events, Is.Empty);
        Assert.That(d.Fx.StillClaimed(), Is.Empty);
    }

    [Test]
    public void Abandon_EndsSilently()
    {
        var d = new CallDriver().Handle(new Abandon());
        Assert.That(d.Fx.All, Is.EqualTo(new Effect[] { new EndedWith(new CallSummary("", "", true)) }));
    }

    // ------------------------------------------------------------------ the originate's reply lost with the link

    [Test]
    public void OriginateReplyLost_BackgroundJobConfirms()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Lost);
        Assert.That(d.Fx.Events, Is.Empty);
        Assert.That(d.Fx.Settlements, Is.Empty, "not known yet");
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.EqualTo(TimeSpan.FromSeconds(60)), "RING_TIMEOUT + SOCKET_CONNECT_TIMEOUT");
        d.JobDone(Answered);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(ByReply: false), new SideAnswered(0) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.False);
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketLate)), Is.True);
    }

    [Test]
    public void OriginateReplyLost_SocketConfirms()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Lost).Connect();
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false), new SideAnswered(0) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(d.Fx.SocketCommands.OfType<BridgeCallee>().Count(), Is.EqualTo(1));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.False);
    }

    [Test]
    public void OriginateReplyLost_LinkRestoredAndLegExists_GoesOn()
    {
        var d = new CallDriver().Start().LoseLink().RestoreLink();
        Assert.That(d.Fx.All.OfType<Followed>().Select(f => f.Uuid), Is.EqualTo(new[] { Caller }));
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidExists(Caller)));
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        d.Answer(Caller, fromSocket: false);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(0)));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketLate)), Is.True, "the socket must still come");
    }

    [Test]
    public void OriginateReplyLostAfterTheLinkIsBack_IsCheckedAtOnce()
    {
        var d = new CallDriver().Start();
        var originate = d.Fx.TakeReply(o => o.Command is Originate, "originate");
        d.Handle(new CommandReplied(originate.Correlation, FsReply.Lost) { LinkAlreadyBack = true });
        Assert.That(d.Fx.AwaitingReply.Select(o => o.Command), Is.EqualTo(new object[] { new UuidExists(Caller) }));
        Assert.That(d.Fx.StillFollowed(), Is.EquivalentTo(new[] { Caller }));
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false) }));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.False);
    }

    [Test]
    public void BargeReplyLostAfterTheLinkIsBack_IsCheckedAtOnce()
    {
        var d = new CallDriver().AnsweredCall().Control(BargeMsg("1"));
        var originate = d.Fx.TakeReply(o => o.Command is Originate, "barge originate");
        d.Handle(new CommandReplied(originate.Correlation, FsReply.Lost) { LinkAlreadyBack = true });
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidExists(Barger)));
        d.ReplyTo<UuidExists>(Barger, FsReply.Ok);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("barge", "1", 1) }));
    }

    [Test]
    public void OriginateReplyLost_LegNotThereYet_StaysUnknownUntilItsDeadline_ThenFailsAndAnswersAHangupSentMeanwhile()
    {
        var d = new CallDriver().Start().LoseLink();
        d.Control("""{"type": "hangup"}""");
        Assert.That(d.Fx.Replies, Is.Empty, "nothing is acked before FreeSWITCH took anything");
        d.RestoreLink().ReplyTo<UuidExists>(Caller, FsReply.Gone);
        // a node that stalled runs the originate it received when it wakes, perhaps after answering uuid_exists
        Assert.That(d.Fx.Events, Is.Empty, "not there yet is not never");
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.UnconfirmedGrace, 0)), Is.False);
        Assert.That(d.Fx.StillFollowed(), Is.EqualTo(new[] { Caller }), "followed on the control link meanwhile");
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.EqualTo(Settings.RingTimeout + Settings.SocketConnectTimeout),
            "the deadline counts from the node's return");
        d.Fire(TimerKind.GiveUpLeg, 0);
        Assert.That(d.Fx.Events, Is.Empty, "the deadline asks a last time");
        d.ReplyTo<UuidExists>(Caller, FsReply.Gone);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", LinkLost: true) }));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("hangup", "call ended", null, 1) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.LinkLost }));
        Assert.That(d.Fx.Endings.Single().Result, Is.EqualTo("failed"));
        d.ReplyAll(FsReply.Gone).Fire(TimerKind.Release).ReplyAll(FsReply.Gone);
        AssertNothingLeft(d);
    }

    [Test]
    public void OriginateReplyLost_TheDeadlinesLastQuestionFindsTheLegRinging_ItIsACall()
    {
        var d = new CallDriver().Start().LoseLink().RestoreLink().ReplyTo<UuidExists>(Caller, FsReply.Gone);
        d.Fire(TimerKind.GiveUpLeg, 0).ReplyTo<UuidExists>(Caller, FsReply.Ok);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false) }), "a late call-start: the phone rings");
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
    }

    [Test]
    public void OriginateReplyLost_TheLegShowsUpBeforeItsDeadline_ItIsACallWithALateCallStart()
    {
        var d = new CallDriver().Start().LoseLink().RestoreLink().ReplyTo<UuidExists>(Caller, FsReply.Gone);
        // the node wakes and runs the buffered originate: the caller answers, its socket comes
        d.Connect();
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false), new SideAnswered(0) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 0)), Is.False);
    }

    [Test]
    public void ACallerLegThatShowsUpAfterItsJobWasGivenUp_IsHungUpAtOnce_AndItsSideGetsOneHangupEvent()
    {
        var d = GiveUpWhileTheNodeCannotBeAsked(new CallDriver().Start().LoseLink()); // the link never came back in time
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", true) }));
        var mark = d.Mark;
        // the node wakes: the leg rings after all
        d.RestoreLink();
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidExists(Caller) }));
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidKill(Caller, "ORIGINATOR_CANCEL")), "hung up at once");
        d.HangupComplete(Caller, "ORIGINATOR_CANCEL", fromSocket: false, hadAnswered: false);
        d.HangupComplete(Caller, "ORIGINATOR_CANCEL", fromSocket: false, hadAnswered: false);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", true), new SideHungUp(0, "ORIGINATOR_CANCEL", false) }),
            "after the failure, exactly one hangup-event for side 0");
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.LinkLost }), "the job stays given up");
        d.ReplyAll(FsReply.Ok).Fire(TimerKind.Release);
        AssertNothingLeft(d);
    }

    [Test]
    public void ACallerWhoseSocketComesAfterItsJobWasGivenUp_IsHungUpThroughIt()
    {
        var d = GiveUpWhileTheNodeCannotBeAsked(new CallDriver().Start().LoseLink());
        Assert.That(d.Machine.AcceptsSocket, Is.True, "watched for: its socket is taken, to hang it up");
        d.Connect();
        Assert.That(d.Fx.All.OfType<SocketSent>().Select(s => s.Command), Is.EqualTo(new SocketCommand[] { new HangupCaller("ORIGINATOR_CANCEL") }), "no bridge, no subscription");
        d.HangupComplete(Caller, "ORIGINATOR_CANCEL", fromSocket: false, hadAnswered: true);
        Assert.That(d.Fx.Events.Skip(1), Is.EqualTo(new CallEvent[] { new SideHungUp(0, "ORIGINATOR_CANCEL", false) }));
        Assert.That(d.Fx.Events.OfType<SideAnswered>(), Is.Empty, "no answer-event for a call that failed");
    }

    [Test]
    public void AGivenUpLegIsNotWatchedForOnceTheNodeProvedItRestarted()
    {
        var d = GiveUpWhileTheNodeCannotBeAsked(new CallDriver().Start().LoseLink());
        var mark = d.Mark;
        d.RestoreLink(restarted: true);
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)), Is.Empty);
        Assert.That(d.Fx.StillFollowed(), Is.Empty);
        Assert.That(d.Fx.StillClaimed(), Is.Empty);
    }

    [Test]
    public void OriginateReplyLost_FreeSwitchRestarted_FailsAtOnce()
    {
        var d = new CallDriver().Start().LoseLink().RestoreLink(restarted: true);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", true) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.LinkLost }));
        AssertNothingLeft(d);
    }

    [Test]
    public void OriginateReplyLost_DeadlineWhileTheNodeCannotBeAsked_WaitsForIt_ThenGivesUpAndTriesToCancelTheLeg()
    {
        var d = new CallDriver().Start().LoseLink();
        var mark = d.Mark;
        // (a node that cannot be asked, stalled or with its link down, may still run the originate when it wakes)
        GiveUpWhileTheNodeCannotBeAsked(d);
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command).OfType<UuidKill>(), Is.EqualTo(new[] { new UuidKill(Caller, "ORIGINATOR_CANCEL") }));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", true) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.LinkLost }));
        d.RestoreLink();
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidExists(Caller) }), "the node is back: did it place the leg after all?");
        d.ReplyTo<UuidExists>(Caller, FsReply.Gone).Fire(TimerKind.Release);
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidExists(Caller), new UuidExists(Caller) }), "the watch ends with a last question");
        d.ReplyTo<UuidExists>(Caller, FsReply.Gone);
        AssertNothingLeft(d);
    }

    [Test]
    public void HangupBeforeStart_IsCarriedOutAndAckedOnceFreeSwitchHasTheCall()
    {
        var d = new CallDriver().Start();
        d.Control("""{"type": "hangup", "id": 5}""");
        Assert.That(d.Fx.Replies, Is.Empty);
        Assert.That(d.Fx.ApiCommands, Is.Empty);
        d.ReplyOriginate(FsReply.Ok);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true) }));
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "ORIGINATOR_CANCEL") }), "the ringing caller is cancelled");
        d.ReplyTo<UuidKill>(Caller, FsReply.Ok);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("hangup", "5", 1) }));
        d.JobDone(HungUp("ORIGINATOR_CANCEL"));
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(0, "ORIGINATOR_CANCEL", false)));
        AssertNothingLeft(d);
    }

    [Test]
    public void HangupWhileReplyLost_IsCarriedOutByTheSocketThatProvesTheCall()
    {
        var d = new CallDriver().Start().LoseLink();
        d.Control("""{"type": "hangup"}""");
        d.Connect();
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(false), new SideAnswered(0) }));
        Assert.That(d.Fx.SocketCommands.Skip(1), Is.EqualTo(new SocketCommand[] { new HangupCaller("NORMAL_CLEARING") }), "no bridge: the callee is never dialled");
        d.ReplyToSocket<HangupCaller>(FsReply.Ok);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("hangup", null, 1) }));
        d.Hangup(Caller).HangupComplete(Caller);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(0, "NORMAL_CLEARING", true)));
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Count(), Is.EqualTo(1), "side 1 was never dialled");
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void HangupWhileCallerRings_CancelsIt()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok);
        d.Control(Msg("hangup"));
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "ORIGINATOR_CANCEL") }));
        Assert.That(d.Fx.All.OfType<ApiSent>().Single().ViaSocket, Is.False);
        d.ReplyTo<UuidKill>(Caller, FsReply.Ok).JobDone(HungUp("ORIGINATOR_CANCEL"));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("hangup", null, 1) }));
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(0, "ORIGINATOR_CANCEL", false)));
    }

    [Test]
    public void HangupWhoseKillsAllFail_IsRefused()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(Msg("hangup", "\"x\""));
        d.ReplyTo<UuidKill>(Caller, FsReply.Lost);
        Assert.That(d.Fx.Replies, Is.Empty, "one kill still out");
        d.ReplyTo<UuidKill>(Callee, FsReply.Lost);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("hangup", "freeswitch unavailable", "\"x\"", 1) }));
    }

    // ------------------------------------------------------------------ barge and its modes

    [Test]
    public void LateSocketThatCameAndDropped_LinkReturn_DoesNotHangUpTheCaller()
    {
        // The socket was late (the caller was followed), then came, the call was bridged, and the socket dropped.
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered);
        d.Fire(TimerKind.SocketLate).ReplyTo<UuidExists>(Caller, FsReply.Ok);
        d.Connect().ReplyToSocket<BridgeCallee>(FsReply.Ok);
        d.Event(Callee, LegEventKind.Exists).Answer(Callee).CloseSocket();
        d.ReplyAll(FsReply.Ok);
        var mark = d.Mark;
        d.LoseLink().RestoreLink();
        // Only a caller whose socket never came is hung up on the link's return (the old owner also hung up this one:
        // its "late" flag outlived the socket).
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command).OfType<UuidKill>(), Is.Empty);
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command), Is.EquivalentTo(new FsCommand[] { new UuidExists(Caller), new UuidExists(Callee) }),
            "both live legs are checked, as after any link loss");
        Assert.That(d.Fx.Events.OfType<SideHungUp>(), Is.Empty, "the call goes on");
    }

    [Test]
    public void CalleeLeaves_AsTheSocketCloses_TheCallerIsHungUpOnTheLink()
    {
        // The socket broke but its close is not handled yet: the machine still counts it alive, the send fails.
        var d = new CallDriver().AnsweredCall();
        d.Fx.SocketOpen = false;
        var mark = d.Mark;
        d.Hangup(Callee, "NORMAL_CLEARING");
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Where(a => a.WentOut).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "NORMAL_CLEARING") }));
        Assert.That(d.Fx.StillFollowed(), Does.Contain(Caller), "its end comes on the control link");
    }

    [Test]
    public void Barge_AsTheSocketCloses_TheBargerIsFollowedOnTheLink()
    {
        var d = new CallDriver().AnsweredCall();
        d.Fx.SocketOpen = false;
        d.Control(BargeMsg("b"));
        Assert.That(d.Fx.StillFollowed(), Does.Contain(Barger), "no socket filter went out for it");
    }

    [Test]
    public void HangupBeforeAStartThatSendsNothing_IsRefused()
    {
        var d = new CallDriver();
        d.Control(Msg("hangup", "\"h\""));
        d.Fx.LinkUp = false;
        d.Start();
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.NotSent }));
        Assert.That(d.Fx.Replies.Single(), Is.EqualTo(Failure("hangup", "freeswitch unavailable", "\"h\"", 1)));
        Assert.That(d.Fx.Events, Is.Empty);
    }

    [Test]
    public void SocketThatComesAfterTheGiveUp_HangsTheCallerUpInsteadOfBridging()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered);
        d.Fire(TimerKind.SocketLate).ReplyTo<UuidExists>(Caller, FsReply.Ok);
        d.Fire(TimerKind.SocketNeverCame);
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidKill(Caller, "NORMAL_CLEARING")));
        var mark = d.Mark;
        d.Connect(); // the kill and the connection crossed
        var sent = Of<SocketSent>(d.Fx.Since(mark)).Select(s => s.Command).ToList();
        Assert.That(sent.OfType<BridgeCallee>(), Is.Empty, "the callee is not rung for a caller being hung up");
        Assert.That(sent.OfType<HangupCaller>().Single(), Is.EqualTo(new HangupCaller("NORMAL_CLEARING")));
    }

    [Test]
    public void Barge_AfterTheCallerWasHungUp_IsRefusedAndDialsNobody()
    {
        // The callee left: the caller's hang-up goes out on the socket, but its CHANNEL_HANGUP has not come yet.
        var d = new CallDriver().AnsweredCall().Hangup(Callee, "NORMAL_CLEARING");
        Assert.That(Of<SocketSent>(d.Fx.All).Select(s => s.Command), Does.Contain(new HangupCaller("NORMAL_CLEARING")));
        var mark = d.Mark;
        d.Control(BargeMsg("7"));
        Assert.That(d.Fx.Replies.Single(), Is.EqualTo(Failure("barge", "call not answered", "7", 1)));
        Assert.That(Of<BgApiSent>(d.Fx.Since(mark)), Is.Empty, "no barger rings on a call being torn down");
        d.Hangup(Caller).HangupComplete(Caller).HangupComplete(Callee);
        AssertNothingLeft(d);
    }

    [Test]
    public void Barge_AckedOnOk_ThenModesSendTheirDigits()
    {
        var d = new CallDriver().AnsweredCall();
        var mark = d.Mark;
        d.Control("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777-777-7777", "id": "b-1"}""");
        var since = d.Fx.Since(mark);
        Assert.That(Of<Claimed>(since), Is.EqualTo(new[] { new Claimed(Barger), new Claimed(SecondBarger) }));
        Assert.That(Of<SocketSent>(since).Single().Command, Is.EqualTo(new FilterLeg(SecondBarger)), "the next barger's events come on the socket too");
        Assert.That(Of<StateSaved>(since).Single().Fields, Is.EqualTo(new[] { ("uuid_2", Barger), ("barge_next", SecondBarger), ("ev.answer.2", ""), ("ev.hangup.2", ""), ("mode", "0"), ("mode_before", "0") }));
        var line = Of<BgApiSent>(since).Single().Command.Line;
        Assert.That(line, Does.StartWith("originate {origination_uuid=uuid-2,dial_id=d1,call-side=2,org_id=o1,user_id=u1,loopback_bowout=false,origination_caller_id_number=777-777-7777,"));
        Assert.That(line, Does.EndWith("}sofia/gateway/p1/15550000777 &eavesdrop(uuid-0)"));
        Assert.That(d.Fx.Replies, Is.Empty);

        d.ReplyOriginate(FsReply.Ok, Barger);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("barge", "\"b-1\"", 1) }));
        d.Answer(Barger);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(2)));

        (string Type, string Digit)[] modes = [("whisper", "2"), ("threeway", "3"), ("unthreeway", "2"), ("mute", "0"), ("threeway", "3"), ("unthreeway", "0")];
        var n = 1;
        foreach (var (type, digit) in modes)
        {
            mark = d.Mark;
            d.Control(Msg(type, (++n).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var dtmf = Of<ApiSent>(d.Fx.Since(mark)).Single();
            Assert.That(dtmf.Command, Is.EqualTo(new UuidRecvDtmf(Barger, digit)), type);
            Assert.That(dtmf.ViaSocket, Is.True);
            d.ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
            Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Ack(type, n.ToString(System.Globalization.CultureInfo.InvariantCulture), n)));
        }
    }

    [Test]
    public void ModeChangeRefused_ChangesNothing()
    {
        var d = new CallDriver().BargedCall();
        d.Control(Msg("threeway")).ReplyTo<UuidRecvDtmf>(Barger, FsReply.Refused("-ERR Operation failed"));
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("threeway", "-ERR Operation failed", null, 2)));
        d.Control(Msg("unthreeway"));
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("unthreeway", "not in threeway", null, 3)));
        d.Control(Msg("whisper"));
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidRecvDtmf(Barger, "2")));
    }

    [Test]
    public void ModesSentWhileBargerRings_GoOutOnAnswer_ARefusalAheadLeavesNoTrace()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg()).ReplyOriginate(FsReply.Ok, Barger);
        d.Control(Msg("whisper")).Control(Msg("threeway")).Control(Msg("unthreeway"));
        Assert.That(d.Fx.All.OfType<ApiSent>().Where(a => a.Command is UuidRecvDtmf), Is.Empty, "the barger still rings");
        d.Answer(Barger);
        Assert.That(d.Fx.ApiCommands.OfType<UuidRecvDtmf>().Select(c => c.Digits), Is.EqualTo(new[] { "2", "3", "2" }));
        d.ReplyTo<UuidRecvDtmf>(Barger, FsReply.Refused("-ERR Operation failed"))
         .ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok)
         .ReplyTo<UuidRecvDtmf>(Barger, FsReply.Refused("-ERR Operation failed"));
        Assert.That(d.Fx.Replies.Skip(1), Is.EqualTo(new[]
        {
            Failure("whisper", "-ERR Operation failed", null, 2), Ack("threeway", null, 3), Failure("unthreeway", "-ERR Operation failed", null, 4),
        }));
        d.Control(Msg("unthreeway"));
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidRecvDtmf(Barger, "0")), "back to listening, not to the whisper FreeSWITCH never took");
    }

    [Test]
    public void BargerKeypad_DecidesWhatUnthreewayRestores()
    {
        var d = new CallDriver().BargedCall();
        d.Dtmf(Barger, 2).Dtmf(Barger, 0, fromApp: true);
        d.Control(Msg("threeway")).ReplyTo<UuidRecvDtmf>(Barger, FsReply.Ok);
        d.Control(Msg("unthreeway"));
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidRecvDtmf(Barger, "2")));
    }

    [Test]
    public void BargeRefused_FailsAndAllowsTheNext()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg("1")).ReplyOriginate(FsReply.Refused("-ERR SUBSCRIBER_ABSENT"), Barger);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("barge", "-ERR SUBSCRIBER_ABSENT", "1", 1) }));
        Assert.That(d.Fx.StillClaimed(), Does.Not.Contain(Barger));
        d.Control(BargeMsg("2")).ReplyOriginate(FsReply.Ok, SecondBarger);
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Ack("barge", "2", 2)));
    }

    [Test]
    public void SecondBarge_RefusedWhileTheFirstRingsOrIsUp_AllowedAfterItLeft()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg("1"));
        d.Control(BargeMsg("2"));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("barge", "barge already active", "2", 2) }), "refused while unconfirmed");
        d.ReplyOriginate(FsReply.Ok, Barger).Answer(Barger);
        d.Control(BargeMsg("3"));
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("barge", "barge already active", "3", 3)));
        d.Hangup(Barger);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(2, "NORMAL_CLEARING", true)));
        d.Control(Msg("whisper"));
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("whisper", "no barge leg", null, 4)));
        d.Control(BargeMsg("5")).ReplyOriginate(FsReply.Ok, SecondBarger).Answer(SecondBarger);
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Ack("barge", "5", 5)));
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(2)), "side 2 answers again, on its new leg");

        d.Control(Msg("hangup"));
        Assert.That(d.Fx.AwaitingReply.Select(o => o.Command), Is.EqualTo(new object[]
        {
            new UuidKill(SecondBarger, "NORMAL_CLEARING"), new UuidKill(Caller, "NORMAL_CLEARING"), new UuidKill(Callee, "NORMAL_CLEARING"),
        }), "the barger first, then the caller, then the callee");
    }

    [Test]
    public void BargeReplyLost_AckedWhenItsLegShowsUp()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg("\"b1\"")).ReplyOriginate(FsReply.Lost, Barger);
        Assert.That(d.Fx.Replies, Is.Empty);
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 2)), Is.True);
        d.Answer(Barger);
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Ack("barge", "\"b1\"", 1) }));
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(2)));
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GiveUpLeg, 2)), Is.False);
        d.Control(BargeMsg());
        Assert.That(d.Fx.Replies.Last().Cause, Is.EqualTo("barge already active"));
    }

    [Test]
    public void BargeLostWithTheLink_BlocksTheNextUntilTheLinkSaysItNeverRang()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg("\"b1\"")).LoseLink();
        d.Control(BargeMsg("\"b2\""));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("barge", "barge already active", "\"b2\"", 2) }));
        d.RestoreLink();
        Assert.That(d.Fx.AwaitingReply.Single().Command, Is.EqualTo(new UuidExists(Barger)));
        d.ReplyTo<UuidExists>(Barger, FsReply.Gone);
        Assert.That(d.Fx.Replies.Count(), Is.EqualTo(1), "not there yet: a node that stalled may still run the originate");
        d.Fire(TimerKind.GiveUpLeg, 2).ReplyTo<UuidExists>(Barger, FsReply.Gone);
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("barge", "freeswitch unavailable", "\"b1\"", 1)));
        Assert.That(d.Fx.Events.OfType<SideHungUp>(), Is.Empty, "side 2 never rang: no hangup-event");
        d.Control(BargeMsg()).ReplyOriginate(FsReply.Ok, SecondBarger);
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Ack("barge", null, 3)));
    }

    [Test]
    public void BargerRingingWhenTheCallerHangsUp_IsKilled()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(BargeMsg()).ReplyOriginate(FsReply.Ok, Barger);
        d.Control(Msg("whisper"));
        d.Hangup(Caller);
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidKill(Barger, "NORMAL_CLEARING")));
        d.Hangup(Barger, "ORIGINATOR_CANCEL");
        Assert.That(d.Fx.Replies.Last(), Is.EqualTo(Failure("whisper", "barge leg ended", null, 2)));
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(2, "ORIGINATOR_CANCEL", false)));
    }

    // ------------------------------------------------------------------ the socket

    [Test]
    public void ChannelEventsOnTheControlLinkAreIgnoredWhileTheSocketIsUp()
    {
        var d = new CallDriver().AnsweredCall();
        var mark = d.Mark;
        d.Hangup(Callee, fromSocket: false).HangupComplete(Caller, fromSocket: false);
        Assert.That(d.Fx.Since(mark), Is.Empty);
    }

    [Test]
    public void SocketDrop_FollowsAndChecksTheLiveLegs()
    {
        var d = new CallDriver().AnsweredCall();
        var mark = d.Mark;
        d.CloseSocket();
        var since = d.Fx.Since(mark);
        Assert.That(Of<Followed>(since), Is.EqualTo(new[] { new Followed(Caller), new Followed(Callee) }));
        Assert.That(Of<ApiSent>(since).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidExists(Caller), new UuidExists(Callee) }));
        Assert.That(d.Fx.Events.Count(), Is.EqualTo(3), "nothing published on the drop itself");

        d.ReplyTo<UuidExists>(Caller, FsReply.Ok).ReplyTo<UuidExists>(Callee, FsReply.Gone);
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.GoneGrace, 1)), Is.True);
        d.Fire(TimerKind.GoneGrace, 1);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(1, "NORMAL_UNSPECIFIED", true)));
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidKill(Caller, "NORMAL_UNSPECIFIED")), "the parked caller, on the control link");
        d.ReplyTo<UuidKill>(Caller, FsReply.Ok).HangupComplete(Caller, "NORMAL_UNSPECIFIED", fromSocket: false);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideHungUp(0, "NORMAL_UNSPECIFIED", true)));
        AssertNothingLeft(d);
    }

    [Test]
    public void SocketDrop_GoneLegsRealCauseWinsWithinTheGrace()
    {
        var d = new CallDriver().AnsweredCall().CloseSocket();
        d.ReplyTo<UuidExists>(Callee, FsReply.Gone);
        d.HangupComplete(Callee, "USER_BUSY", fromSocket: false);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().First(), Is.EqualTo(new SideHungUp(1, "USER_BUSY", true)));
        d.Fire(TimerKind.GoneGrace, 1);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Count(s => s.Side == 1), Is.EqualTo(1));
    }

    [Test]
    public void CalleeWhoAnswersAfterTheSocketDropped_IsReported()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Connect().Event(Callee, LegEventKind.Exists);
        d.CloseSocket().ReplyTo<UuidExists>(Caller, FsReply.Ok).ReplyTo<UuidExists>(Callee, FsReply.Ok);
        d.Answer(Callee, fromSocket: false);
        Assert.That(d.Fx.Events.Last(), Is.EqualTo(new SideAnswered(1)));
        d.Hangup(Callee, fromSocket: false).Hangup(Caller, fromSocket: false);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Select(e => e.Side), Is.EqualTo(new[] { 1, 0 }));
    }

    [Test]
    public void AfterALinkBlip_DroppedLegsAreCheckedAgain()
    {
        var d = new CallDriver().AnsweredCall().CloseSocket();
        d.Quiesce(FsReply.Ok);
        var mark = d.Mark;
        d.LoseLink().RestoreLink();
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidExists(Caller), new UuidExists(Callee) }));
        d.Hangup(Callee, fromSocket: false);
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidKill(Caller, "NORMAL_CLEARING")));
    }

    [Test]
    public void LinkRestoredAfterFreeSwitchRestart_EndsDroppedLegsWithSystemShutdown()
    {
        var d = new CallDriver().AnsweredCall().CloseSocket();
        d.LoseLink().RestoreLink(restarted: true);
        Assert.That(d.Fx.Events.OfType<SideHungUp>().ToList(), Is.EquivalentTo(new[] { new SideHungUp(0, "SYSTEM_SHUTDOWN", true), new SideHungUp(1, "SYSTEM_SHUTDOWN", true) }));
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void SocketLate_FollowsTheCaller_ThenNeverCame_KillsIt()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered);
        var mark = d.Mark;
        d.Fire(TimerKind.SocketLate);
        var since = d.Fx.Since(mark);
        Assert.That(Of<Followed>(since), Is.EqualTo(new[] { new Followed(Caller) }));
        Assert.That(Of<ApiSent>(since).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidExists(Caller) }));
        Assert.That(d.Fx.ArmedFor(new CallTimer(TimerKind.SocketNeverCame)), Is.EqualTo(TimeSpan.FromSeconds(14)));
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);

        mark = d.Mark;
        d.Fire(TimerKind.SocketNeverCame);
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)).Select(a => a.Command), Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "NORMAL_CLEARING") }));
        Assert.That(d.Machine.AcceptsSocket, Is.True);
        d.ReplyTo<UuidKill>(Caller, FsReply.Ok).HangupComplete(Caller, fromSocket: false);
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallStarted(true), new SideAnswered(0), new SideHungUp(0, "NORMAL_CLEARING", true) }));
        AssertNothingLeft(d);
    }

    [Test]
    public void SocketLate_ButComes_StopsFollowingAndBridges()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Fire(TimerKind.SocketLate);
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);
        d.Connect();
        Assert.That(d.Fx.StillFollowed(), Is.Empty);
        Assert.That(d.Fx.IsArmed(new CallTimer(TimerKind.SocketNeverCame)), Is.False);
        Assert.That(d.Fx.SocketCommands.OfType<BridgeCallee>().Count(), Is.EqualTo(1));
    }

    [Test]
    public void SocketNeverCame_WhileTheLinkIsDown_KillsTheCallerWhenItIsBack()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(Answered).Fire(TimerKind.SocketLate).ReplyTo<UuidExists>(Caller, FsReply.Ok);
        d.LoseLink().Fire(TimerKind.SocketNeverCame);
        Assert.That(d.Fx.ApiCommands.OfType<UuidKill>(), Is.Empty);
        d.RestoreLink();
        Assert.That(d.Fx.ApiCommands.OfType<UuidKill>().ToList(), Is.EqualTo(new[] { new UuidKill(Caller, "NORMAL_CLEARING") }));
    }

    // ------------------------------------------------------------------ control messages

    [Test]
    public void ControlMessages_Validation()
    {
        var d = new CallDriver().AnsweredCall();
        var expected = new List<ControlReply>();
        void Expect(string json, ControlReply reply)
        {
            d.Control(json);
            expected.Add(reply);
            Assert.That(d.Fx.Replies, Is.EqualTo(expected), json);
        }

        Expect("not json", new("unknown", ReplyKind.Invalid, "invalid json", null, 1));
        Expect("""{"no": "type", "id": 4}""", new("unknown", ReplyKind.Invalid, "missing type", "4", 2));
        Expect("""{"type": "\ud800"}""", new("unknown", ReplyKind.Invalid, "invalid json", null, 3));
        Expect("""{"type": "dance", "id": "d-1"}""", Failure("dance", "unknown type", "\"d-1\"", 4));
        Expect("""{"type": "barge"}""", Failure("barge", "missing phone_number", null, 5));
        Expect("""{"type": "barge", "phone_number": "1\n\napi hupall"}""", Failure("barge", "invalid phone_number", null, 6));
        Expect("""{"type": "barge", "phone_number": {"x": 1}}""", Failure("barge", "invalid phone_number", null, 7));
        Expect("""{"type": "barge", "phone_number": "15550000777", "caller_id": "1'2"}""", Failure("barge", "invalid caller_id", null, 8));
        Expect("""{"type": "whisper"}""", Failure("whisper", "no barge leg", null, 9));
        Expect("""{"type": "mute"}""", Failure("mute", "no barge leg", null, 10));
        Expect("""{"type": "threeway"}""", Failure("threeway", "no barge leg", null, 11));
        Expect("""{"type": "unthreeway"}""", Failure("unthreeway", "no barge leg", null, 12));
        Assert.That(d.Fx.ApiCommands, Is.Empty);
        Assert.That(d.Fx.All.OfType<BgApiSent>().Count(), Is.EqualTo(1), "only the caller's originate");

        // a number given as a JSON number is taken
        d.Control("""{"type": "barge", "phone_number": 15550000777, "caller_id": 777}""");
        Assert.That(d.Fx.All.OfType<BgApiSent>().Last().Command.Line, Does.Contain("origination_caller_id_number=777,").And.Contain("/15550000777 &eavesdrop"));
    }

    [Test]
    public void OwnPublications_AreIgnored()
    {
        var d = new CallDriver().AnsweredCall();
        var mark = d.Mark;
        foreach (var json in new[]
        {
            """{"type": "ack", "event": "whisper"}""", """{"type": "answer-event", "side": "0"}""", """{"type": "hangup-event", "side": "1", "cause": "USER_BUSY"}""",
            """{"type": "call-start", "dial_id": "d1"}""", """{"type": "failure", "cause": "y"}""",
        })
            d.Control(json);
        Assert.That(d.Fx.Since(mark), Is.Empty);
    }

    [Test]
    public void Barge_RefusedBeforeTheCallerAnswered()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok);
        d.Control(BargeMsg());
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("barge", "call not answered", null, 1) }));
        Assert.That(d.Fx.All.OfType<BgApiSent>().Count(), Is.EqualTo(1));
    }

    [Test]
    public void Barge_RefusedAfterAHangupWasAsked()
    {
        var d = new CallDriver().AnsweredCall().Control(Msg("hangup"));
        d.Control(BargeMsg());
        Assert.That(d.Fx.Replies.Single(), Is.EqualTo(Failure("barge", "call not answered", null, 2)));
    }

    [Test]
    public void AfterTheEnd_EveryMessageFailsWithCallEnded()
    {
        var d = new CallDriver().Start().ReplyOriginate(FsReply.Ok).JobDone(HungUp("NO_ANSWER"));
        var mark = d.Mark;
        d.Control(Msg("hangup", "1")).Control(BargeMsg("2")).Control(Msg("whisper", "3")).Control(Msg("dance", "4"));
        Assert.That(Of<Replied>(d.Fx.Since(mark)).Select(r => r.Reply), Is.EqualTo(new[]
        {
            Failure("hangup", "call ended", "1", 1), Failure("barge", "call ended", "2", 2), Failure("whisper", "call ended", "3", 3), Failure("dance", "call ended", "4", 4),
        }));
        Assert.That(Of<ApiSent>(d.Fx.Since(mark)), Is.Empty);
        d.Control("nope");
        Assert.That(d.Fx.Replies.Last().Kind, Is.EqualTo(ReplyKind.Invalid), "unreadable is still unreadable");
    }

    [Test]
    public void SecondHangup_IsAckedToo()
    {
        var d = new CallDriver().AnsweredCall();
        d.Control(Msg("hangup", "1")).ReplyTo<UuidKill>(Caller, FsReply.Ok).ReplyTo<UuidKill>(Callee, FsReply.Ok);
        d.Control(Msg("hangup", "2"));
        d.Quiesce(FsReply.Ok);
        Assert.That(d.Fx.Replies.Select(r => (r.Id, r.Kind)), Is.EqualTo(new[] { ("1", ReplyKind.Ack), ("2", ReplyKind.Ack) }));
    }

    // ------------------------------------------------------------------ drain and forced end

    [Test]
    public void Drain_HangsUpEveryLegWithManagerRequest()
    {
        var d = new CallDriver().AnsweredCall();
        d.Handle(new Drain(LinkUp: true));
        Assert.That(d.Fx.AwaitingReply.Select(o => o.Command), Is.EqualTo(new object[] { new UuidKill(Caller, "MANAGER_REQUEST"), new UuidKill(Callee, "MANAGER_REQUEST") }));
        Assert.That(d.Fx.Replies, Is.Empty, "a drain is no control message");
        d.Quiesce(FsReply.Ok);
        d.Hangup(Caller, "MANAGER_REQUEST").Hangup(Callee, "MANAGER_REQUEST");
        Assert.That(d.Machine.IsEnded, Is.True);
    }

    [Test]
    public void Drain_BeforeStart_KillsTheRingingCallerOnceFreeSwitchHasIt()
    {
        var d = new CallDriver().Start().Handle(new Drain(LinkUp: true));
        Assert.That(d.Fx.ApiCommands, Is.Empty);
        d.ReplyOriginate(FsReply.Ok);
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidKill(Caller, "MANAGER_REQUEST") }));
    }

    [Test]
    public void Drain_WithAnOriginateReplyLost_ChecksItNow()
    {
        var d = new CallDriver().Start().LoseLink();
        d.Fx.LinkUp = true;
        d.Handle(new Drain(LinkUp: true));
        Assert.That(d.Fx.ApiCommands, Is.EqualTo(new FsCommand[] { new UuidExists(Caller) }));
        d.ReplyTo<UuidExists>(Caller, FsReply.Ok);
        Assert.That(d.Fx.ApiCommands.Last(), Is.EqualTo(new UuidKill(Caller, "MANAGER_REQUEST")));
    }

    [Test]
    public void ForceEnd_EndsEverySideWithTheCause()
    {
        var d = new CallDriver().BargedCall();
        d.Handle(new ForceEnd("SYSTEM_SHUTDOWN"));
        Assert.That(d.Fx.Events.OfType<SideHungUp>().ToList(), Is.EqualTo(new[]
        {
            new SideHungUp(2, "SYSTEM_SHUTDOWN", true), new SideHungUp(1, "SYSTEM_SHUTDOWN", true), new SideHungUp(0, "SYSTEM_SHUTDOWN", true),
        }));
        Assert.That(d.Machine.IsEnded, Is.True);
        Assert.That(d.Fx.Endings.Single().Result, Is.EqualTo("connected"));
        d.Handle(new ForceEnd("SYSTEM_SHUTDOWN"));
        Assert.That(d.Fx.Endings.Count(), Is.EqualTo(1));
    }

    [Test]
    public void ForceEnd_BeforeFreeSwitchConfirmed_FailsAndDeadLetters()
    {
        var d = new CallDriver().Start().Control(Msg("hangup", "1"));
        d.Handle(new ForceEnd("SYSTEM_SHUTDOWN"));
        Assert.That(d.Fx.Events, Is.EqualTo(new CallEvent[] { new CallFailed("freeswitch link lost", true) }));
        Assert.That(d.Fx.Settlements, Is.EqualTo(new[] { JobSettlement.LinkLost }));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("hangup", "call ended", "1", 1) }));
        d.ReplyOriginate(FsReply.Ok);
        Assert.That(d.Fx.Events.Count(), Is.EqualTo(1), "a late +OK changes nothing");
        Assert.That(d.Fx.Settlements.Count(), Is.EqualTo(1));
    }

    [Test]
    public void ForceEnd_WithABargeUnconfirmed_FailsItsMessage()
    {
        var d = new CallDriver().AnsweredCall().Control(BargeMsg("7"));
        d.Handle(new ForceEnd("SYSTEM_SHUTDOWN"));
        Assert.That(d.Fx.Replies, Is.EqualTo(new[] { Failure("barge", "freeswitch unavailable", "7", 1) }));
        Assert.That(d.Fx.Events.OfType<SideHungUp>().Select(e => e.Side), Is.EqualTo(new[] { 1, 0 }), "side 2 never rang");
    }
}
