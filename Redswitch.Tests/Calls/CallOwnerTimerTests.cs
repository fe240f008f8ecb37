using Redswitch.Calls;
using Redswitch.Protocol.Messages;
using static Redswitch.Tests.Calls.OwnerHarness;

namespace Redswitch.Tests.Calls;

/// <summary><see cref="Redswitch.Server.Calls.CallOwner"/>'s timers, driven by a FakeTimeProvider: each fires at its time, not a tick before, and a cancelled one never.</summary>
public class CallOwnerTimerTests : OwnerTestBase
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);


    private void Advance(TimeSpan by) => _h.Time.Advance(by);

    /// <summary>Started, and the caller answered (BACKGROUND_JOB +OK): its socket is due now.</summary>
    private void CallerAnswered()
    {
        _h.Started();
        _h.BgApi[0].OnJob(BackgroundJob(_h.BgApi[0].JobUuid, "+OK " + _h.A + "\n"));
        Assert.That(_h.Published.Last(), Is.EqualTo("side 0 + {\"type\": \"answer-event\", \"side\": \"0\"}"));
    }

    private bool Follows(string uuid) => _h.LinkCalls.Contains("follow " + uuid);

    [Test]
    public void ASocketLateByOneSecondHasTheCallerFollowedAndChecked()
    {
        CallerAnswered();

        Advance(TimeSpan.FromSeconds(1) - Tick);
        Assert.That(Follows(_h.A), Is.False);
        Assert.That(_h.Api, Is.Empty);

        Advance(Tick);
        Assert.That(Follows(_h.A), Is.True);
        Assert.That(_h.ApiLines, Is.EqualTo(new[] { $"uuid_exists {_h.A}" }));
    }

    [Test]
    public void ASocketThatNeverComesHasTheCallerKilledAtTheConnectTimeout()
    {
        CallerAnswered();
        Advance(TimeSpan.FromSeconds(1));
        _h.Api[0].OnReply(ApiResponse.Create("true"));

        Advance(TimeSpan.FromSeconds(14) - Tick);
        Assert.That(_h.ApiLines, Has.None.StartsWith("uuid_kill"));

        Advance(Tick);
        Assert.That(_h.ApiLines.Last(), Is.EqualTo($"uuid_kill {_h.A} NORMAL_CLEARING"));
        Assert.That(_h.LinkCalls.Count(c => c == "follow " + _h.A), Is.EqualTo(1), "followed once");
        Assert.That(_h.Published, Has.None.Contains("hangup-event"), "its CHANNEL_HANGUP_COMPLETE will say how it ended");
    }

    [Test]
    public void ALegFreeSwitchDoesNotHaveIsReportedGoneOnlyAfterTheGrace()
    {
        CallerAnswered();
        Advance(TimeSpan.FromSeconds(1));
        var count = _h.Published.Count;

        _h.Api[0].OnReply(ApiResponse.Create("false"));
        Advance(TimeSpan.FromMilliseconds(300) - Tick);
        Assert.That(_h.Published, Has.Count.EqualTo(count), "its hangup event may still bring the real cause");

        Advance(Tick);
        Assert.That(_h.Published.Skip(count), Is.EqualTo(new[]
        {
            "side 0 - {\"type\": \"hangup-event\", \"side\": \"0\", \"cause\": \"NORMAL_UNSPECIFIED\"}",
            _h.EndedAtLine,
        }));
        Assert.That(_h.LinkCalls, Does.Contain("unfollow " + _h.A));
        Assert.That(_h.LinkCalls, Does.Contain("ended"));

        // The call ended, so the connect timeout was cancelled with it.
        Advance(TimeSpan.FromSeconds(30));
        Assert.That(_h.ApiLines, Has.None.StartsWith("uuid_kill"));
    }

    [Test]
    public void AHangupCompleteWithinTheGraceBringsTheRealCause()
    {
        CallerAnswered();
        Advance(TimeSpan.FromSeconds(1));
        _h.Api[0].OnReply(ApiResponse.Create("false"));
        Advance(TimeSpan.FromMilliseconds(100));

        _h.Owner.OnInboundEvent(Channel("CHANNEL_HANGUP_COMPLETE", _h.A, ("Hangup-Cause", "USER_BUSY"), ("Caller-Channel-Answered-Time", "1700000000")));
        Advance(TimeSpan.FromSeconds(1));

        var hangups = _h.Published.Where(p => p.Contains("hangup-event", StringComparison.Ordinal)).ToList();
        Assert.That(hangups, Is.EqualTo(new[] { "side 0 - {\"type\": \"hangup-event\", \"side\": \"0\", \"cause\": \"USER_BUSY\"}" }));
    }

    [Test]
    public void ALostOriginateReplyIsGivenUpAfterRingingAndConnectTime()
    {
        Assert.That(_h.Start(), Is.True);
        var job = _h.BgApi[0].JobUuid;
        _h.BgApi[0].OnReply(null);
        Assert.That(_h.Api, Is.Empty, "the link is not back yet: nothing to ask");

        Advance(TimeSpan.FromSeconds(45) - Tick);
        Assert.That(_h.Published, Is.Empty);
        Assert.That(_h.Settled, Is.Empty);

        Advance(Tick);
        // the deadline's last question: is the leg there?
        Assert.That(_h.ApiLines, Is.EqualTo(new[] { $"uuid_exists {_h.A}" }));
        Assert.That(_h.Published, Is.Empty);
        _h.Api[0].OnReply(ApiResponse.Create("false"));
        Assert.That(_h.ApiLines.Skip(1), Is.EqualTo(new[] { $"uuid_kill {_h.A} ORIGINATOR_CANCEL" }));
        Assert.That(_h.Published, Is.EqualTo(new[] { "event {\"type\": \"failure\", \"cause\": \"freeswitch link lost\"}", _h.EndedAtLine }));
        Assert.That(_h.Settled, Is.EqualTo(new[] { JobSettlement.LinkLost }));
        Assert.That(_h.Metrics.JobsFailed.WithLabels("freeswitch link lost").Value, Is.EqualTo(1));
        Assert.That(_h.CallsTotal("failed"), Is.EqualTo(1));
        // (and the leg stays followed: a node that stalled may still place it, and it is then hung up at once)
        Assert.That(_h.LinkCalls, Is.EqualTo(new[] { "placed", "ended", "forget " + job, "follow " + _h.A }));
    }

    [Test]
    public void AReplyLostWhileTheLinkIsAlreadyBackIsCheckedAtOnceAndItsGiveUpCancelled()
    {
        Assert.That(_h.Start(), Is.True);
        _h.Generation = 2; // the link reconnected before the closed connection's reply came

        _h.BgApi[0].OnReply(null);
        Assert.That(_h.ApiLines, Is.EqualTo(new[] { $"uuid_exists {_h.A}" }));
        Assert.That(Follows(_h.A), Is.True);

        _h.Api[0].OnReply(ApiResponse.Create("true"));
        Assert.That(_h.Published[0], Is.EqualTo("start " + CallStartJson));
        Assert.That(_h.Settled, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(_h.Metrics.OriginateLatency.Count, Is.Zero, "not confirmed by a reply");

        Advance(TimeSpan.FromMinutes(2));
        Assert.That(_h.Published, Has.None.Contains("failure"));
        Assert.That(_h.ApiLines, Has.None.StartsWith("uuid_kill"));
    }

    [Test]
    public void ALingeringSocketIsSentExitAfterSocketLinger()
    {
        var socket = _h.Connected();
        _h.Owner.OnSocketEvent(Channel("CHANNEL_ANSWER", _h.B));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP", _h.B, ("Hangup-Cause", "NORMAL_CLEARING")));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP", _h.A, ("Hangup-Cause", "NORMAL_CLEARING")));
        Assert.That(_h.LinkCalls, Does.Contain("ended"), "every side hung up");
        Assert.That(_h.CallsTotal("connected"), Is.EqualTo(1));

        Advance(TimeSpan.FromSeconds(30) - Tick);
        Assert.That(socket.Texts, Does.Not.Contain("exit"), "the legs' last events may still come");

        Advance(Tick);
        Assert.That(socket.Texts.Last(), Is.EqualTo("exit"));
        Assert.That(socket.Closes, Is.Zero);
        socket.Sent.Last().OnReply!(CommandReply.Create("+OK bye"));
        Assert.That(socket.Closes, Is.EqualTo(1));
    }

    [Test]
    public void TheEndedCallIsReleasedAfterEndedLinger()
    {
        Assert.That(_h.Start(), Is.True);
        _h.BgApi[0].OnReply(CommandReply.Create("-ERR no"));
        Assert.That(_h.Owner.Ended.IsCompleted, Is.True);

        Advance(TimeSpan.FromSeconds(60) - Tick);
        Assert.That(_h.Unsubscribed, Is.Zero, "late control messages still get their failure");
        Assert.That(_h.Registry.Contains("d1"), Is.True);
        _h.Owner.OnControl("{\"type\": \"hangup\"}");
        Assert.That(_h.Published.Last(), Is.EqualTo("reply {\"type\": \"failure\", \"event\": \"hangup\", \"cause\": \"call ended\"}"));

        Advance(Tick);
        Assert.That(_h.Unsubscribed, Is.EqualTo(1));
        Assert.That(_h.Registry.Contains("d1"), Is.False);
        Assert.That(_h.Registry.Count, Is.Zero);
    }

    [Test]
    public void ALingerLongerThanTheReleaseStillEndsInExit()
    {
        _h = new OwnerHarness(OwnerHarness.Settings with { SocketLinger = TimeSpan.FromSeconds(90) });
        var socket = _h.Connected();
        _h.Owner.OnSocketEvent(Channel("CHANNEL_ANSWER", _h.B));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP", _h.B, ("Hangup-Cause", "NORMAL_CLEARING")));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP", _h.A, ("Hangup-Cause", "NORMAL_CLEARING")));

        Advance(TimeSpan.FromSeconds(60));
        Assert.That(_h.Unsubscribed, Is.EqualTo(1), "released at ENDED_LINGER");
        Assert.That(socket.Texts, Does.Not.Contain("exit"));

        Advance(TimeSpan.FromSeconds(30));
        Assert.That(socket.Texts.Last(), Is.EqualTo("exit"), "the release did not take the linger timer with it");
    }

    [Test]
    public void AnOriginateReplyThatComesAfterTheSocketIsStillTimed()
    {
        Assert.That(_h.Start(), Is.True);
        Assert.That(_h.Owner.OnSocketConnected(new FakeSocket().Object), Is.True);
        Assert.That(_h.Published[0], Is.EqualTo("start " + CallStartJson), "the socket proved the call first");

        _h.BgApi[0].OnReply(CommandReply.Create("+OK Job-UUID: " + _h.BgApi[0].JobUuid));
        Assert.That(_h.Metrics.OriginateLatency.Count, Is.EqualTo(1), "a slow reply is a slow link: it is measured");
        Assert.That(_h.Published.Count(p => p.Contains("call-start", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public void ASocketThatConnectsInTimeCancelsTheLateTimer()
    {
        CallerAnswered();
        Advance(TimeSpan.FromMilliseconds(500));
        var socket = new FakeSocket();
        Assert.That(_h.Owner.OnSocketConnected(socket.Object), Is.True);

        Advance(TimeSpan.FromSeconds(30));

        Assert.That(Follows(_h.A), Is.False);
        Assert.That(_h.Api, Is.Empty);
        Assert.That(_h.Published.Count(p => p.Contains("answer-event", StringComparison.Ordinal)), Is.EqualTo(1), "answered once");
        Assert.That(socket.Texts.Last(), Does.Contain("execute-app-name: bridge"));
    }
}
