using System.Net;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>Link loss, graceful stop, health and metrics, several instances, socket drop, restart recovery.</summary>
[Category("e2e")]
[NonParallelizable]
public class LifecycleTests : RedisAndSimulatorTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Test]
    public async Task JobPushedWhileFreeSwitchIsDownWaitsInRedisAndRunsWhenItIsBack()
    {
        var server = await StartServerAsync();
        await _sim!.StopAsync();
        await WaitAsync(() => server.Service.Links!.AnyUp == false, 5, "link down");
        var ready = await Http.GetAsync(new Uri(server.MetricsUri, "/readyz"));
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await ready.Content.ReadAsStringAsync(), Is.EqualTo("no FreeSWITCH node authenticated\n"));

        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await Task.Delay(1500);
        Assert.That(await _redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "the job waits in Redis");
        Assert.That(watch.All, Is.Empty);

        _sim = await StartSimAsync();
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(1)));
        Assert.That((await Http.GetAsync(new Uri(server.MetricsUri, "/readyz"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
    }

    [Test]
    public async Task HealthAndMetrics()
    {
        var server = await StartServerAsync();
        Assert.That((await Http.GetAsync(new Uri(server.MetricsUri, "/healthz"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Http.GetAsync(new Uri(server.MetricsUri, "/readyz"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
        await watch.SendAsync("""{"type": "whisper"}""");
        await watch.NextAsync();
        var live = await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        Assert.That(live, Does.Contain("redswitch_calls_live 1"));
        Assert.That(live, Does.Contain("redswitch_outbound_sessions_open 1"));
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
        await PushAsync(_redis, "not json");
        await WaitAsync(() => _redis.Db.ListLength($"{{{JobList}}}.dead") == 1, 5, "dead letter");

        // Counters move as the call's writes go out, not before its events reach us: read until they all agree.
        string[] expected =
                 [
                     "redswitch_jobs_taken_total 2", "redswitch_jobs_failed_total{cause=\"invalid json\"} 1",
                     "redswitch_jobs_dead_lettered_total 1", "redswitch_originate_latency_seconds_count 1",
                     "redswitch_calls_live 0", "redswitch_calls_total{result=\"connected\"} 1",
                     "redswitch_hangups_total{side=\"1\",cause=\"NORMAL_CLEARING\"} 1",
                     "redswitch_control_messages_total{type=\"hangup\",result=\"ack\"} 1",
                     "redswitch_control_messages_total{type=\"whisper\",result=\"failure\"} 1",
                     "redswitch_control_latency_seconds_count 1",
                     $"redswitch_esl_links_up{{node=\"127.0.0.1:{_simPort}\"}} 1",
                     "redswitch_outbound_sessions_open 0",
                 ];
        var text = "";
        await WaitAsync(() =>
        {
            text = Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics")).GetAwaiter().GetResult();
            return expected.All(text.Contains);
        }, 5, "the metrics of the call and the dead letter");
        foreach (var series in expected) Assert.That(text, Does.Contain(series));
        Assert.That(text, Does.Match("redswitch_esl_frames_total\\{link=\"outbound\"\\} [1-9]"));
        Assert.That(text, Does.Match("redswitch_esl_bytes_total\\{link=\"inbound\"\\} [1-9]"));
        Assert.That(text, Does.Contain("redswitch_redis_errors_total"));

        await _sim!.StopAsync();
        await WaitAsync(() => server.Service.Links!.AnyUp == false, 5, "link down");
        Assert.That((await Http.GetAsync(new Uri(server.MetricsUri, "/readyz"))).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics")), Does.Contain($"redswitch_esl_links_up{{node=\"127.0.0.1:{_simPort}\"}} 0"));
    }

    [Test]
    public async Task StopKeepsServingTheLiveCallAndTakesNoNewJob()
    {
        var server = await StartServerAsync(new() { ["DRAIN_TIMEOUT"] = "20" });
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);

        var stopping = server.StopAsync();
        await Task.Delay(1500); // the dispatcher's BLMOVE in flight returns within its block time
        var second = NewDialId();
        await PushAsync(_redis, Call(second));
        await Task.Delay(1200);
        Assert.That(stopping.IsCompleted, Is.False, "still draining");
        Assert.That(await _redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "no new job taken");

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        await watch.SendAsync("""{"type": "hangup"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup")));
        await watch.CollectAsync(IsHangup, 3);
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(await _redis.Db.ListLengthAsync(JobList), Is.EqualTo(1), "the job is still there for another instance");
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.processing.{server.Service.InstanceId}"), Is.Zero);
    }

    [Test]
    public async Task DrainTimeoutHangsUpWithManagerRequest()
    {
        var server = await StartServerAsync(new() { ["DRAIN_TIMEOUT"] = "1" });
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(15));
        var tail = await watch.CollectAsync(IsHangup, 2);
        Assert.That(tail, Is.EquivalentTo(new[] { Hangup(0, "MANAGER_REQUEST"), Hangup(1, "MANAGER_REQUEST") }));
        Assert.That(await _redis.Db.KeyExistsAsync($"redswitch.{dialId}.{Org}.{User}"), Is.False);
    }

    [Test]
    public async Task TwoInstancesEveryControlGetsExactlyOneAck()
    {
        var a = await StartServerAsync();
        var b = await StartServerAsync();
        var ids = Enumerable.Range(0, 6).Select(_ => NewDialId()).ToList();
        var watches = new List<ChannelWatcher>();
        foreach (var id in ids)
        {
            watches.Add(await ChannelWatcher.StartAsync(_redis.Client, id));
            await PushAsync(_redis, Call(id));
            await Task.Delay(100);
        }
        foreach (var w in watches) await w.CollectAsync(m => m == Answer(1), 1);
        var ownedByA = ids.Count(id => a.Service.Registry.ByDialId(id) is not null);
        var ownedByB = ids.Count(id => b.Service.Registry.ByDialId(id) is not null);
        Assert.That(ownedByA + ownedByB, Is.EqualTo(ids.Count));
        Assert.That(ownedByA, Is.GreaterThan(0));
        Assert.That(ownedByB, Is.GreaterThan(0));

        foreach (var w in watches)
            await w.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777"}""");
        foreach (var w in watches) await w.CollectAsync(m => m == Answer(2), 1);
        foreach (var w in watches) await w.SendAsync("""{"type": "threeway"}""");
        foreach (var w in watches) await w.SendAsync("""{"type": "hangup"}""");
        foreach (var w in watches) await w.CollectAsync(IsHangup, 3);
        await Task.Delay(300);
        foreach (var w in watches)
        {
            Assert.That(w.All.Count(m => m == Ack("barge")), Is.EqualTo(1));
            Assert.That(w.All.Count(m => m == Ack("threeway")), Is.EqualTo(1));
            Assert.That(w.All.Count(m => m == Ack("hangup")), Is.EqualTo(1));
            Assert.That(w.All.Count(m => m.Contains("failure")), Is.Zero);
            await w.DisposeAsync();
        }
    }

    [Test]
    public async Task SocketDropLegsAreFollowedThroughTheControlLink()
    {
        var server = await StartServerAsync();
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
        Assert.That(await _sim!.BreakOutboundSocketAsync(server.Service.Registry.ByDialId(dialId)!.CallerUuid), Is.EqualTo(1), "the caller's socket broken");
        await watch.ExpectQuietAsync(1);
        Assert.That(_sim!.LiveChannels, Is.EqualTo(2), "FreeSWITCH keeps the bridge up");
        await watch.SendAsync("""{"type": "hangup"}""");
        var tail = await watch.CollectAsync(m => IsHangup(m) || IsAck(m), 3);
        Assert.That(tail, Is.EquivalentTo(new[] { Ack("hangup"), Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
        await watch.ExpectQuietAsync(0.5);
    }

    [Test]
    public async Task CalleeHangupAfterSocketDropIsStillReported()
    {
        var server = await StartServerAsync();
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: "15550000480"));
        await watch.CollectAsync(m => m == Answer(1), 1);
        Assert.That(await _sim!.BreakOutboundSocketAsync(server.Service.Registry.ByDialId(dialId)!.CallerUuid), Is.EqualTo(1), "the caller's socket broken");
        var tail = await watch.CollectAsync(IsHangup, 2, 10);
        Assert.That(tail, Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING") }));
    }

    [Test]
    public async Task RestartReturnsOrDeadLettersWhatItsProcessingListHeld()
    {
        const string instance = "restarted-1";
        var fresh = NewDialId();
        var dialled = NewDialId();
        var processing = $"{{{JobList}}}.processing.{instance}";
        await _redis.Db.ListRightPushAsync(processing, Call(fresh));
        await _redis.Db.ListRightPushAsync(processing, Call(dialled));
        await _redis.Db.StringSetAsync($"redswitch.dialled.{dialled}", "someone");
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, fresh);
        await using var watch2 = await ChannelWatcher.StartAsync(_redis.Client, dialled);
        await StartServerAsync(new() { ["INSTANCE_ID"] = instance });
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(fresh)));
        await watch.CollectAsync(m => m == Answer(1), 1);
        Assert.That(await _redis.Db.ListLengthAsync(processing), Is.Zero);
        var dead = (string)(await _redis.Db.ListGetByIndexAsync($"{{{JobList}}}.dead", 0))!;
        Assert.That(dead, Does.Contain(dialled).And.Contain("\"cause\": \"interrupted\""));
        await watch2.ExpectQuietAsync(0.3);
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
    }

    [Test]
    public async Task FreeSwitchRestartWhileTheCallerRingsEndsSideZeroWithSystemShutdown()
    {
        var server = await StartServerAsync(new() { ["RING_TIMEOUT"] = "30" });
        _sim!.SetBehaviour("15550000111", PhoneBehaviour.NoAnswer(null));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, caller: "15550000111"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        await _sim.StopAsync();
        await WaitAsync(() => server.Service.Links!.AnyUp == false, 5, "link down");
        _sim = await StartSimAsync();
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Hangup(0, "SYSTEM_SHUTDOWN")));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(server.Service.Registry.Live, Is.Zero);
    }

    [Test]
    public async Task LinkBlipWhileTheCallerRingsKeepsFollowingTheCall()
    {
        // The link drops but FreeSWITCH (here: the same simulator) keeps the ringing leg; once the link is back the
        // leg is still followed, and its end is reported with the cause FreeSWITCH gives.
        var server = await StartServerAsync(new() { ["RING_TIMEOUT"] = "30" });
        _sim!.SetBehaviour("15550000222", PhoneBehaviour.NoAnswer(TimeSpan.FromSeconds(2)));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, caller: "15550000222"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await _sim!.BreakInboundConnectionsAsync(), Is.GreaterThanOrEqualTo(1), "the control link broken");
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Hangup(0, "NO_ANSWER")));
        await watch.ExpectQuietAsync(0.5);
    }

    [Test]
    public async Task OutboundConnectionFromOutsideOutboundAllowIsRefused()
    {
        var server = await StartServerAsync(new() { ["OUTBOUND_ALLOW"] = "10.0.0.0/8" });
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        // the caller's leg has nobody controlling it: Redswitch hangs it up and reports it
        Assert.That(await watch.NextAsync(15), Does.StartWith("{\"type\": \"hangup-event\", \"side\": \"0\""));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(server.Log.Lines.Any(l => l.Contains("not in OUTBOUND_ALLOW")), Is.True);
        Assert.That(await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics")), Does.Contain("redswitch_outbound_refused_total{reason=\"not_allowed\"} 1"));
        Assert.That(_sim!.LiveChannels, Is.Zero);
    }

    [Test]
    public async Task OutboundConnectionForAChannelNoCallOwnsIsRefused()
    {
        var server = await StartServerAsync();
        var uuid = Guid.NewGuid().ToString();
        using var esl = new System.Net.Sockets.TcpClient();
        await esl.ConnectAsync(IPAddress.Loopback, _simPort);
        var stream = esl.GetStream();
        async Task Send(string text) => await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(text + "\n\n"));
        await Send("auth ClueCon");
        await Send($"bgapi originate {{origination_uuid={uuid},dial_id=foreign}}sofia/gateway/x/15550000123 &socket('127.0.0.1:{server.Service.OutboundPort} async full')");
        await WaitAsync(() => server.Log.Lines.Any(l => l.Contains("no call of this instance")), 10, "refusal logged");
        for (var i = 0; i < 100 && await _sim!.ChannelExistsAsync(uuid); i++) await Task.Delay(50);
        Assert.That(await _sim!.ChannelExistsAsync(uuid), Is.False, "the foreign channel was let go (exit) and hung up");
        Assert.That(await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics")), Does.Contain("redswitch_outbound_refused_total{reason=\"unknown_call\"} 1"));
    }

    [Test]
    public async Task OutboundPeersThatDoNotAnswerConnectAreClosedAndCounted()
    {
        var server = await StartServerAsync();
        var port = server.Service.OutboundPort;
        using var idle = new System.Net.Sockets.TcpClient();
        using var trickling = new System.Net.Sockets.TcpClient();
        using var garbled = new System.Net.Sockets.TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, port);
        await trickling.ConnectAsync(IPAddress.Loopback, port);
        await garbled.ConnectAsync(IPAddress.Loopback, port);
        var sw = System.Diagnostics.Stopwatch.StartNew();

        // a line that is no header: a framing error, closed at once
        await garbled.GetStream().WriteAsync("no colon here\n\n"u8.ToArray());
        Assert.That(await ClosedWithinAsync(garbled, TimeSpan.FromSeconds(5)), Is.True, "closed on the framing error");

        // one byte every 300 ms never makes a reply: closed at the connect timeout all the same
        var reply = "Content-Type: command/reply\nReply-Text: +OK\n"u8.ToArray();
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            try
            {
                foreach (var b in reply)
                {
                    await trickling.GetStream().WriteAsync(new[] { b }, stop.Token);
                    await Task.Delay(300, stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException) { }
        });
        Assert.That(await ClosedWithinAsync(idle, TimeSpan.FromSeconds(10)), Is.True, "the idle peer closed");
        Assert.That(await ClosedWithinAsync(trickling, TimeSpan.FromSeconds(5)), Is.True, "the trickling peer closed");
        Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(4.5)), "not before the timeout");
        stop.Cancel();
        await trickle;

        var text = await Http.GetStringAsync(new Uri(server.MetricsUri, "/metrics"));
        Assert.That(text, Does.Contain("redswitch_outbound_refused_total{reason=\"timeout\"} 2"));
        Assert.That(text, Does.Contain("redswitch_outbound_refused_total{reason=\"framing\"} 1"));
        Assert.That(server.Log.Lines.Count(l => l.Contains("no reply to connect within 5 s")), Is.EqualTo(2), "one line each");

        // a normal call is not affected
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
    }

    /// <summary>True once the server closed the connection (a read returns 0 or fails), within <paramref name="limit"/>.</summary>
    private static async Task<bool> ClosedWithinAsync(System.Net.Sockets.TcpClient client, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        var buffer = new byte[4096];
        try
        {
            while (true)
                if (await client.GetStream().ReadAsync(buffer, cts.Token) == 0) return true;
        }
        catch (OperationCanceledException) { return false; }
        catch (IOException) { return true; }
    }

    [Test]
    public async Task NewCallsGoToTheConnectedNodeWithTheFewestLiveCalls()
    {
        await using var second = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
        var server = await StartServerAsync(new() { ["ESL_URL"] = $"127.0.0.1:{_simPort},127.0.0.1:{second.Port}" });
        await WaitAsync(() => server.Service.Links!.Links.All(l => l.IsUp), 5, "both links up");
        var watches = new List<ChannelWatcher>();
        for (var i = 0; i < 4; i++)
        {
            var id = NewDialId();
            var w = await ChannelWatcher.StartAsync(_redis.Client, id);
            watches.Add(w);
            await PushAsync(_redis, Call(id));
            await w.CollectAsync(m => m == Answer(1), 1);
        }
        Assert.That(_sim!.LiveChannels, Is.EqualTo(4), "two calls, two legs each");
        Assert.That(second.LiveChannels, Is.EqualTo(4));

        // one node goes away: new calls go to the other, the calls on it are reported as they end
        await second.StopAsync();
        await WaitAsync(() => server.Service.Links!.Links.Count(l => l.IsUp) == 1, 5, "one link down");
        var more = NewDialId();
        await using var moreWatch = await ChannelWatcher.StartAsync(_redis.Client, more);
        await PushAsync(_redis, Call(more));
        await moreWatch.CollectAsync(m => m == Answer(1), 1);
        Assert.That(_sim.LiveChannels, Is.EqualTo(6));
        await moreWatch.SendAsync("""{"type": "hangup"}""");
        await moreWatch.CollectAsync(IsHangup, 2);
        foreach (var w in watches)
        {
            await w.SendAsync("""{"type": "hangup"}""");
            await w.DisposeAsync();
        }
    }

    [Test]
    public async Task NobodyAnswersOnceTheEndedCallWasReleased()
    {
        // EndedLinger is 60 s in production; shortened here.
        var server = await StartServerAsync(tune: o => ServerHarness.With(o, endedLinger: TimeSpan.FromSeconds(1)));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: "15550000486"));
        await watch.CollectAsync(IsHangup, 2);
        await watch.SendAsync("""{"type": "mute"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("mute", "call ended")));
        await Task.Delay(1500);
        Assert.That(server.Service.Registry.ByDialId(dialId), Is.Null);
        // The grace is over: the state hash and the index entry go with it (SPEC §8.1).
        await Waits.UntilAsync(() => !_redis.Db.KeyExists($"redswitch.call.{{{dialId}}}") && !_redis.Db.SetContains("{redswitch}.owned." + server.Service.InstanceId, dialId),
            5, "the call's state hash and index entry to be deleted");
        await watch.SendAsync("""{"type": "mute"}""");
        await watch.ExpectQuietAsync(0.5);
        Assert.That(await _redis.Db.ExecuteAsync("PUBSUB", "NUMSUB", dialId) is { } r ? (long)r[1] : -1, Is.EqualTo(1), "only the test is subscribed");
    }

    [Test]
    public async Task JobsOfAnInstanceWhoseHeartbeatExpiredAreTakenOver()
    {
        var fresh = NewDialId();
        var dialled = NewDialId();
        var processing = $"{{{JobList}}}.processing.crashed-7";
        await _redis.Db.ListRightPushAsync(processing, Call(fresh));
        await _redis.Db.ListRightPushAsync(processing, Call(dialled));
        await _redis.Db.StringSetAsync($"redswitch.dialled.{dialled}", "crashed-7");
        // a live peer's list is left alone
        var alive = $"{{{JobList}}}.processing.alive-1";
        await _redis.Db.ListRightPushAsync(alive, Call(NewDialId()));
        await _redis.Db.StringSetAsync($"{{{JobList}}}.heartbeat.alive-1", "1", TimeSpan.FromMinutes(1));

        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, fresh);
        var server = await StartServerAsync();
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Start(fresh)));
        await watch.CollectAsync(m => m == Answer(1), 1);
        Assert.That(await _redis.Db.KeyExistsAsync(processing), Is.False);
        Assert.That(await _redis.Db.ListLengthAsync(alive), Is.EqualTo(1));
        var dead = (string)(await _redis.Db.ListGetByIndexAsync($"{{{JobList}}}.dead", 0))!;
        Assert.That(dead, Does.Contain(dialled).And.Contain("\"cause\": \"interrupted\""));
        Assert.That(await _redis.Db.KeyExistsAsync($"{{{JobList}}}.heartbeat.{server.Service.InstanceId}"), Is.True);
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
    }
}
