using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Esl;
using static Redswitch.Tests.Calls.OwnerHarness;

namespace Redswitch.Tests.Calls;

/// <summary>How FreeSWITCH's words become the call machine's values (Esl/FsReplies).</summary>
public class FsRepliesTests
{
    private const string Uuid = "3f0c1a9e-0000-4000-8000-000000000001";

    // ------------------------------------------------------------------ Classify

    [Test]
    public void ACommandReplyOkIsAcceptedWithItsTrimmedText() =>
        Assert.That(FsReplies.Classify(null, CommandReply.Create("+OK Job-UUID: j1 ")), Is.EqualTo(new FsReply(FsOutcome.Accepted, "+OK Job-UUID: j1")));

    [TestCase("-ERR invalid session id")]
    [TestCase("-USAGE: <uuid>")]
    public void ACommandReplyThatIsNotOkIsRefused(string text) =>
        Assert.That(FsReplies.Classify(null, CommandReply.Create(text)), Is.EqualTo(FsReply.Refused(text)));

    [Test]
    public void AnApiResponseOkIsAcceptedWithItsTrimmedBody() =>
        Assert.That(FsReplies.Classify(new UuidKill(Uuid, "NORMAL_CLEARING"), ApiResponse.Create("+OK\n")), Is.EqualTo(new FsReply(FsOutcome.Accepted, "+OK")));

    [TestCase("-ERR No such channel!\n")]
    [TestCase("-ERR no such channel!")]
    public void NoSuchChannelMeansTheLegIsGone(string body)
    {
        var reply = FsReplies.Classify(new UuidKill(Uuid, "NORMAL_CLEARING"), ApiResponse.Create(body));
        Assert.That(reply.Outcome, Is.EqualTo(FsOutcome.NoSuchChannel));
        Assert.That(reply.Text, Is.EqualTo(body.Trim()));
    }

    [Test]
    public void AnyOtherApiErrorIsRefused() =>
        Assert.That(FsReplies.Classify(new UuidRecvDtmf(Uuid, "2"), ApiResponse.Create("-ERR Invalid DTMF\n")), Is.EqualTo(FsReply.Refused("-ERR Invalid DTMF")));

    [TestCase("true\n", FsOutcome.Accepted)]
    [TestCase("false\n", FsOutcome.NoSuchChannel)]
    [TestCase("-ERR Command not found!\n", FsOutcome.Refused)]
    [TestCase("+OK", FsOutcome.Refused)]
    public void UuidExistsIsReadAsTrueOrFalse(string body, FsOutcome expected)
    {
        var reply = FsReplies.Classify(new UuidExists(Uuid), ApiResponse.Create(body));
        Assert.That(reply, Is.EqualTo(new FsReply(expected, body.Trim())));
    }

    [Test]
    public void TrueFromAnotherCommandIsNotAnOk() =>
        Assert.That(FsReplies.Classify(new UuidDump(Uuid), ApiResponse.Create("true")).Outcome, Is.EqualTo(FsOutcome.Refused));

    [Test]
    public void NoReplyMeansTheLinkWasLost()
    {
        Assert.That(FsReplies.Classify(null, null), Is.EqualTo(FsReply.Lost));
        Assert.That(FsReplies.Classify(new UuidExists(Uuid), null).Arrived, Is.False);
    }

    // ------------------------------------------------------------------ JobResult

    [TestCase("+OK 3f0c1a9e\n", FsJobOutcome.Answered, "+OK 3f0c1a9e")]
    [TestCase("-ERR USER_BUSY\n", FsJobOutcome.HungUp, "USER_BUSY")]
    [TestCase("-ERR NO_ANSWER", FsJobOutcome.HungUp, "NO_ANSWER")]
    [TestCase("-ERR NOT_A_CAUSE\n", FsJobOutcome.Failed, "-ERR NOT_A_CAUSE")]
    [TestCase("-ERR user_busy", FsJobOutcome.Failed, "-ERR user_busy")]
    [TestCase("-USAGE: originate <call url> <exten>", FsJobOutcome.Failed, "-USAGE: originate <call url> <exten>")]
    [TestCase("", FsJobOutcome.Failed, "")]
    [TestCase(null, FsJobOutcome.Failed, "")]
    public void ABackgroundJobBodyIsAnAnswerAHangupCauseOrAFailure(string? body, FsJobOutcome outcome, string detail) =>
        Assert.That(FsReplies.JobResult(body), Is.EqualTo(new FsJobResult(outcome, detail)));

    [Test]
    public void ABackgroundJobEventCarriesItsBodyToJobResult() =>
        Assert.That(FsReplies.JobResult(BackgroundJob("j1", "-ERR USER_BUSY\n").EventBodyText), Is.EqualTo(new FsJobResult(FsJobOutcome.HungUp, "USER_BUSY")));

    // ------------------------------------------------------------------ LegEvent

    [TestCase("CHANNEL_CREATE", LegEventKind.Exists)]
    [TestCase("CHANNEL_PROGRESS", LegEventKind.Exists)]
    [TestCase("CHANNEL_PROGRESS_MEDIA", LegEventKind.Exists)]
    [TestCase("CHANNEL_EXECUTE", LegEventKind.Exists)]
    [TestCase("CHANNEL_BRIDGE", LegEventKind.Exists)]
    [TestCase("CHANNEL_UNBRIDGE", LegEventKind.Exists)]
    [TestCase("CHANNEL_ANSWER", LegEventKind.Answer)]
    [TestCase("CHANNEL_HANGUP", LegEventKind.Hangup)]
    [TestCase("CHANNEL_HANGUP_COMPLETE", LegEventKind.HangupComplete)]
    [TestCase("CHANNEL_EXECUTE_COMPLETE", LegEventKind.ExecuteComplete)]
    [TestCase("DTMF", LegEventKind.Dtmf)]
    [TestCase("CHANNEL_PARK", LegEventKind.Other)]
    [TestCase("CHANNEL_STATE", LegEventKind.Other)]
    public void EachEventNameMapsToItsKind(string name, LegEventKind kind)
    {
        var e = FsReplies.LegEvent(Channel(name, Uuid), fromSocket: true)!;
        Assert.That((e.Uuid, e.Kind, e.FromSocket), Is.EqualTo((Uuid, kind, true)));
        Assert.That(FsReplies.LegEvent(Channel(name, Uuid), fromSocket: false)!.FromSocket, Is.False);
    }

    [Test]
    public void AnEventWithoutAUniqueIdIsNoLegEvent() =>
        Assert.That(FsReplies.LegEvent(BackgroundJob("j1", "+OK x"), fromSocket: false), Is.Null);

    [Test]
    public void AHangupCarriesItsCause()
    {
        Assert.That(FsReplies.LegEvent(Channel("CHANNEL_HANGUP", Uuid, ("Hangup-Cause", "USER_BUSY")), true)!.Cause, Is.EqualTo("USER_BUSY"));
        Assert.That(FsReplies.LegEvent(Channel("CHANNEL_HANGUP", Uuid), true)!.Cause, Is.Null);
    }

    [Test]
    public void AnEmptyCauseIsNoCause()
    {
        // It would otherwise end up in "uuid_kill <uuid> " (the callee's cause hangs the caller up).
        var e = FsReplies.LegEvent(Channel("CHANNEL_HANGUP_COMPLETE", Uuid, ("Hangup-Cause", ""), ("variable_originate_failed_cause", " ")), false)!;
        Assert.That((e.Cause, e.OriginateFailedCause), Is.EqualTo(((string?)null, (string?)null)));
    }

    [TestCase("1700000000123456", true)]
    [TestCase("0", false)]
    [TestCase(null, false)]
    public void AHangupCompleteSaysWhetherTheLegHadAnswered(string? answeredTime, bool hadAnswered)
    {
        (string, string)[] headers = answeredTime is null
            ? [("Hangup-Cause", "NO_ANSWER"), ("variable_originate_failed_cause", "NO_ANSWER")]
            : [("Hangup-Cause", "NO_ANSWER"), ("variable_originate_failed_cause", "NO_ANSWER"), ("Caller-Channel-Answered-Time", answeredTime)];
        var e = FsReplies.LegEvent(Channel("CHANNEL_HANGUP_COMPLETE", Uuid, headers), false)!;
        Assert.That((e.HadAnswered, e.Cause, e.OriginateFailedCause), Is.EqualTo((hadAnswered, "NO_ANSWER", "NO_ANSWER")));
    }

    [TestCase("bridge", true)]
    [TestCase("playback", false)]
    public void AnExecuteCompleteSaysWhetherTheBridgeEnded(string app, bool bridgeEnded)
    {
        var e = FsReplies.LegEvent(Channel("CHANNEL_EXECUTE_COMPLETE", Uuid, ("Application", app), ("Hangup-Cause", "USER_BUSY"),
            ("variable_originate_failed_cause", "USER_BUSY")), true)!;
        // the causes are read only for the bridge: they say how the callee went (and other apps end often)
        var cause = bridgeEnded ? "USER_BUSY" : null;
        Assert.That((e.BridgeEnded, e.Cause, e.OriginateFailedCause), Is.EqualTo((bridgeEnded, cause, cause)));
    }

    [TestCase("5", "RTP", 5, false)]
    [TestCase("0", "APP", 0, true)]
    [TestCase("9", "INBAND_AUDIO", 9, false)]
    [TestCase("*", "RTP", null, false)]
    [TestCase("#", "APP", null, true)]
    [TestCase("12", "RTP", null, false)]
    public void ADtmfCarriesItsDigitAndWhetherItCameFromOurApp(string digit, string source, int? expected, bool fromApp)
    {
        var e = FsReplies.LegEvent(Channel("DTMF", Uuid, ("DTMF-Digit", digit), ("DTMF-Source", source)), true)!;
        Assert.That((e.Digit, e.DigitFromApp), Is.EqualTo((expected, fromApp)));
    }
}
