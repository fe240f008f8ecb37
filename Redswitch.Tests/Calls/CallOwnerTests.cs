using Moq;
using Redswitch.Calls;
using Redswitch.Protocol.Messages;
using static Redswitch.Tests.Calls.OwnerHarness;

namespace Redswitch.Tests.Calls;

/// <summary>
/// <see cref="Redswitch.Server.Calls.CallOwner"/> against mocked links, sockets and publisher: what a subscriber of the
/// call's channel would read, and what FreeSWITCH would be sent.
/// </summary>
public class CallOwnerTests : OwnerTestBase
{
    private const string Answer0 = "side 0 + {\"type\": \"answer-event\", \"side\": \"0\"}";
    private const string SocketEvents = "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF";



    // ------------------------------------------------------------------ start

    [Test]
    public void StartSendsOneBgapiOriginateWithItsOwnJobUuidAndTheQuotedSocketApp()
    {
        Assert.That(_h.Start(), Is.True);

        Assert.That(_h.BgApi, Has.Count.EqualTo(1));
        var a = _h.A;
        Assert.That(_h.BgApi[0].Line, Is.EqualTo(
            $"originate {{origination_uuid={a},dial_id=d1,call-side=0,org_id=o1,user_id=u1,loopback_bowout=false,origination_caller_id_number=5550001," +
            @"ignore_early_media=true,originate_timeout=30,hangup_after_bridge=true,ringback=%(2000\,4000\,440\,480)}" +
            "sofia/gateway/prov/15551230001 &socket('10.0.0.5:8084 async full')"));
        Assert.That(Guid.TryParse(_h.BgApi[0].JobUuid, out _), Is.True, _h.BgApi[0].JobUuid);
        Assert.That(_h.LinkCalls, Is.EqualTo(new[] { "placed" }));
        Assert.That(_h.Published, Is.Empty, "call-start waits for FreeSWITCH's +OK");
        Assert.That(_h.Settled, Is.Empty);
        Assert.That(_h.Registry.ByUuid(a), Is.SameAs(_h.Owner), "the caller's leg is claimed before the originate");
    }

    [Test]
    public void StartOnALinkThatTakesNothingReturnsFalseSettlesNothingAndRestoresTheLiveCount()
    {
        _h.LinkTakes = false;
        Assert.That(_h.Registry.Live, Is.EqualTo(1));

        Assert.That(_h.Start(), Is.False);

        Assert.That(_h.Settled, Is.Empty, "NotSent is the return value, not a settlement");
        Assert.That(_h.Published, Is.Empty);
        Assert.That(_h.LinkCalls, Is.Empty, "neither placed nor ended on the link");
        Assert.That(_h.Registry.Live, Is.Zero);
        Assert.That(_h.Registry.ByUuid(_h.A), Is.Null, "the leg's uuid is released");
        Assert.That(_h.Owner.Ended.IsCompleted, Is.True);
        _h.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.That(_h.Unsubscribed, Is.Zero, "the dispatcher drops the subscription itself");
    }

    [Test]
    public void OkReplyPublishesCallStartSavesTheStateAndSettlesDone()
    {
        Assert.That(_h.Owner.InitialState(), Is.EqualTo(new[] { ("org_id", "o1"), ("user_id", "u1"), ("call_provider", "prov"), ("uuid_0", _h.A), ("uuid_1", _h.B), ("barge_next", _h.G) }),
            "the state the dispatcher saves before the originate");
        _h.Started();

        Assert.That(_h.Published, Is.EqualTo(new[] { "start " + CallStartJson }));
        Assert.That(new[] { _h.A, _h.B, _h.G }.Distinct().Count(), Is.EqualTo(3), "three different uuids");
        Assert.That(_h.Settled, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(_h.Metrics.OriginateLatency.Count, Is.EqualTo(1));
        Assert.That(_h.Registry.ByUuid(_h.B), Is.SameAs(_h.Owner));
        Assert.That(_h.Registry.ByUuid(_h.G), Is.SameAs(_h.Owner));
    }

    [Test]
    public void ErrReplyPublishesTheFailureSettlesDoneAndEndsTheCall()
    {
        Assert.That(_h.Start(), Is.True);
        var job = _h.BgApi[0].JobUuid;

        _h.BgApi[0].OnReply(CommandReply.Create("-ERR invalid dial string"));

        Assert.That(_h.Published, Is.EqualTo(new[] { "event {\"type\": \"failure\", \"cause\": \"-ERR invalid dial string\"}", _h.EndedAtLine }));
        Assert.That(_h.Settled, Is.EqualTo(new[] { JobSettlement.Done }));
        Assert.That(_h.LinkCalls, Is.EqualTo(new[] { "placed", "ended", "forget " + job }));
        Assert.That(_h.CallsTotal("failed"), Is.EqualTo(1));
        Assert.That(_h.Metrics.JobsFailed.WithLabels("refused").Value, Is.EqualTo(1));
        Assert.That(_h.Registry.Live, Is.Zero);
        Assert.That(_h.Registry.ByUuid(_h.A), Is.Null);
        Assert.That(_h.Owner.Ended.IsCompleted, Is.True);
    }

    // ------------------------------------------------------------------ the outbound socket

    [Test]
    public void TheSocketIsSetUpWithLingerEventsAndFiltersThenTheCalleeIsBridged()
    {
        var socket = _h.Connected();

        var b = _h.B;
        Assert.That(socket.Sent.Select(s => (s.Text, s.Flush)), Is.EqualTo(new[]
        {
            ("linger 30", false),
            (SocketEvents, false),
            ($"filter Unique-ID {_h.A}", false),
            ($"filter Unique-ID {b}", false),
            ($"filter Unique-ID {_h.G}", false),
            ("sendmsg | call-command: execute | execute-app-name: bridge | execute-app-arg: " +
             $"{{origination_uuid={b},dial_id=d1,call-side=1,org_id=o1,user_id=u1,loopback_bowout=false,origination_caller_id_number=5550002,leg_timeout=30}}" +
             "sofia/gateway/prov/15551230002", true),
        }));
        Assert.That(_h.Published, Is.EqualTo(new[] { "start " + CallStartJson, Answer0 }));
        Assert.That(_h.Metrics.OutboundSessionsOpen.Value, Is.EqualTo(1));
        Assert.That(socket.Closes, Is.Zero);
    }

    [Test]
    public void ASecondConnectionForTheCallIsSentExitAndClosed()
    {
        var first = _h.Connected();
        var sentOnFirst = first.Sent.Count;
        var second = new FakeSocket();

        Assert.That(_h.Owner.OnSocketConnected(second.Object), Is.False);

        Assert.That(second.Texts, Is.EqualTo(new[] { "exit" }));
        Assert.That(second.Closes, Is.Zero, "closed once FreeSWITCH answered the exit");
        second.Sent[0].OnReply!(CommandReply.Create("+OK bye"));
        Assert.That(second.Closes, Is.EqualTo(1));
        Assert.That(first.Sent, Has.Count.EqualTo(sentOnFirst));
        Assert.That(first.Closes, Is.Zero);
        Assert.That(_h.Metrics.OutboundSessionsOpen.Value, Is.EqualTo(1));
        Assert.That(_h.Published.Count(p => p.Contains("answer-event", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public void AReplyGivenFromInsideASendIsHandledAfterTheCurrentInput()
    {
        // A hangup asked before FreeSWITCH took the originate goes out on the socket when it connects; the socket
        // closed meanwhile and answers null from inside TrySend, as EslSession does on its event loop.
        Assert.That(_h.Start(), Is.True);
        _h.Owner.OnControl("{\"type\": \"hangup\"}");
        var socket = new FakeSocket();
        var publishedByTheNestedReply = new List<int>();
        socket.OnSend = sent =>
        {
            if (!sent.Text.StartsWith("sendmsg", StringComparison.Ordinal)) return;
            var before = _h.Published.Count;
            sent.OnReply!(null);
            publishedByTheNestedReply.Add(_h.Published.Count - before);
        };

        Assert.That(_h.Owner.OnSocketConnected(socket.Object), Is.True);

        Assert.That(publishedByTheNestedReply, Is.EqualTo(new[] { 0 }), "the reply waited for the socket's input to finish");
        Assert.That(socket.Texts.Last(), Is.EqualTo("sendmsg | call-command: hangup | hangup-cause: NORMAL_CLEARING"));
        Assert.That(socket.Texts, Has.None.Contains("bridge"));
        Assert.That(_h.Published, Is.EqualTo(new[]
        {
            "start " + CallStartJson, Answer0,
            "reply {\"type\": \"failure\", \"event\": \"hangup\", \"cause\": \"freeswitch unavailable\"}",
        }));
        Assert.That(_h.Settled, Is.EqualTo(new[] { JobSettlement.Done }));

        // The +OK that was stalled meanwhile changes nothing.
        _h.BgApi[0].OnReply(CommandReply.Create("+OK Job-UUID: " + _h.BgApi[0].JobUuid));
        Assert.That(_h.Published, Has.Count.EqualTo(3));
        Assert.That(_h.Settled, Has.Count.EqualTo(1));
        Assert.That(_h.Api, Is.Empty, "no uuid_kill on the link: the socket had the hangup");
    }

    // ------------------------------------------------------------------ control and the end

    [Test]
    public void AHangupMessageIsAckedWithItsIdOnceFreeSwitchAcceptsTheKill()
    {
        var socket = _h.Connected();
        _h.Published.Clear();

        _h.Owner.OnControl("{\"type\": \"hangup\", \"id\": 7}");

        var kill = socket.Sent.Last();
        Assert.That(kill.Text, Is.EqualTo($"api uuid_kill {_h.A} NORMAL_CLEARING"), "on the socket, answered leg: NORMAL_CLEARING");
        Assert.That(_h.Published, Is.Empty, "no ack before FreeSWITCH's reply");
        kill.OnReply!(ApiResponse.Create("+OK\n"));
        Assert.That(_h.Published, Is.EqualTo(new[] { "reply {\"type\": \"ack\", \"event\": \"hangup\", \"id\": 7}" }));
        Assert.That(_h.Metrics.ControlMessages.WithLabels("hangup", "ack").Value, Is.EqualTo(1));
    }

    [Test]
    public void ACompletedCallPublishesEachSideOnceForgetsItsJobAndCountsConnected()
    {
        var socket = _h.Connected();
        var (a, b, job) = (_h.A, _h.B, _h.BgApi[0].JobUuid);

        _h.Owner.OnSocketEvent(Channel("CHANNEL_ANSWER", b));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP_COMPLETE", b, ("Hangup-Cause", "NORMAL_CLEARING"), ("Caller-Channel-Answered-Time", "1700000000")));
        Assert.That(socket.Texts.Last(), Is.EqualTo("sendmsg | call-command: hangup | hangup-cause: NORMAL_CLEARING"), "the parked caller is hung up");
        Assert.That(_h.LinkCalls, Does.Not.Contain("ended"));
        _h.Owner.OnSocketEvent(Channel("CHANNEL_HANGUP_COMPLETE", a, ("Hangup-Cause", "NORMAL_CLEARING"), ("Caller-Channel-Answered-Time", "1700000000")));

        Assert.That(_h.Published, Is.EqualTo(new[]
        {
            "start " + CallStartJson, Answer0,
            "side 1 + {\"type\": \"answer-event\", \"side\": \"1\"}",
            "side 1 - {\"type\": \"hangup-event\", \"side\": \"1\", \"cause\": \"NORMAL_CLEARING\"}",
            "side 0 - {\"type\": \"hangup-event\", \"side\": \"0\", \"cause\": \"NORMAL_CLEARING\"}",
            _h.EndedAtLine,
        }));
        Assert.That(socket.Texts.Last(), Is.EqualTo("exit"), "every leg complete: no need to linger");
        Assert.That(_h.LinkCalls, Is.EqualTo(new[] { "placed", "ended", "forget " + job }));
        Assert.That(_h.CallsTotal("connected"), Is.EqualTo(1));
        Assert.That(_h.Metrics.HangupsByCause.WithLabels("0", "NORMAL_CLEARING").Value, Is.EqualTo(1));
        Assert.That(_h.Metrics.HangupsByCause.WithLabels("1", "NORMAL_CLEARING").Value, Is.EqualTo(1));
        Assert.That(_h.Registry.Live, Is.Zero);
        Assert.That(_h.Registry.ByUuid(a), Is.Null);
        Assert.That(_h.Owner.Ended.IsCompleted, Is.True);

        _h.Owner.OnSocketClosed(socket.Object);
        Assert.That(_h.Metrics.OutboundSessionsOpen.Value, Is.Zero);
        Assert.That(_h.Published, Has.Count.EqualTo(6), "nothing after the end");
    }

    [Test]
    public void EveryJobUuidIsForgottenAtTheEndIncludingTheBarges()
    {
        var socket = _h.Connected();
        var g = _h.G;

        _h.Owner.OnControl("{\"type\": \"barge\", \"phone_number\": \"15551230003\", \"caller_id\": \"5550003\"}");
        Assert.That(_h.BgApi, Has.Count.EqualTo(2));
        Assert.That(_h.BgApi[1].Line, Does.StartWith($"originate {{origination_uuid={g},dial_id=d1,call-side=2,"));
        Assert.That(_h.BgApi[1].Line, Does.EndWith($"sofia/gateway/prov/15551230003 &eavesdrop({_h.A})"));
        Assert.That(socket.Texts.Last(), Is.EqualTo($"filter Unique-ID {_h.G}"), "the next barge uuid is filtered on the socket");
        _h.BgApi[1].OnReply(CommandReply.Create("+OK Job-UUID: " + _h.BgApi[1].JobUuid));
        Assert.That(_h.Published.Last(), Is.EqualTo("reply {\"type\": \"ack\", \"event\": \"barge\"}"));

        _h.Owner.ForceEnd("SYSTEM_SHUTDOWN");

        Assert.That(_h.Published.TakeLast(4), Is.EqualTo(new[]
        {
            "event {\"type\": \"hangup-event\", \"side\": \"2\", \"cause\": \"SYSTEM_SHUTDOWN\"}",
            "event {\"type\": \"hangup-event\", \"side\": \"1\", \"cause\": \"SYSTEM_SHUTDOWN\"}",
            "side 0 - {\"type\": \"hangup-event\", \"side\": \"0\", \"cause\": \"SYSTEM_SHUTDOWN\"}",
            _h.EndedAtLine,
        }));
        Assert.That(_h.LinkCalls.Where(c => c.StartsWith("forget ", StringComparison.Ordinal)),
            Is.EquivalentTo(new[] { "forget " + _h.BgApi[0].JobUuid, "forget " + _h.BgApi[1].JobUuid }));
        Assert.That(_h.LinkCalls.Count(c => c == "ended"), Is.EqualTo(1));
    }
}
