using System.Text.Json.Nodes;
using NUnit.Framework.Interfaces;
using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Server;

/// <summary>End to end: a real redis-server, the simulator over loopback sockets, and the server in-process.</summary>
[Category("e2e")]
[NonParallelizable]
public class CallFlowTests
{
    private RedisServer _redis = null!;
    private SimulatorHost _sim = null!;
    private ServerHarness _server = null!;

    [OneTimeSetUp]
    public async Task StartInfrastructure()
    {
        _redis = await RedisServer.StartAsync();
        _sim = await SimulatorHost.StartAsync(new SimulatorOptions { Port = 0, HeartbeatInterval = null });
    }

    [OneTimeTearDown]
    public async Task StopInfrastructure()
    {
        await _sim.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [SetUp]
    public async Task StartServer()
    {
        await _redis.FlushAsync();
        _sim.ClearBehaviours();
        _server = await ServerHarness.StartAsync(_redis, _sim.Port);
    }

    [TearDown]
    public async Task StopServer()
    {
        if (_server is null) return;
        await _server.StopAsync();
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed)
            TestContext.Out.WriteLine(_server.Log.Dump());
    }

    private static string Key(string dialId) => $"redswitch.{dialId}.{Org}.{User}";
    private const string History = $"redswitch_history.{Org}.{User}";

    private async Task<string?> BargeUuidAsync()
    {
        foreach (var uuid in await _sim.GetChannelUuidsAsync())
            if (await _sim.GetEavesdropModeAsync(uuid) is not null) return uuid;
        return null;
    }

    private async Task<string?> WaitModeAsync(string uuid, string expected)
    {
        string? mode = null;
        for (var i = 0; i < 100; i++)
        {
            mode = await _sim.GetEavesdropModeAsync(uuid);
            if (mode == expected) return mode;
            await Task.Delay(20);
        }
        return mode;
    }

    [Test]
    public async Task HappyPath_BargeWhisperThreewayUnthreewayMuteHangup()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        // trailing comma, as in the examples people copy
        await PushAsync(_redis, Call(dialId).Replace("\"user1\"}", "\"user1\",}"));

        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(1)));

        var active = await _redis.Db.ListRangeAsync(Key(dialId));
        Assert.That(active.Select(v => (string)v!), Is.EqualTo(new[] { "ACTIVE.1", "ACTIVE.0" }));
        var ttl = await _redis.Db.KeyTimeToLiveAsync(Key(dialId));
        Assert.That(ttl!.Value.TotalSeconds, Is.InRange(86000, 86400));
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.processing.{_server.Service.InstanceId}"), Is.Zero);
        var state = (await _redis.Db.HashGetAllAsync($"redswitch.call.{{{dialId}}}")).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);
        Assert.That((state["owner"], state["epoch"]), Is.EqualTo((_server.Service.InstanceId, "1")), "owned at epoch 1 (SPEC §8.1)");
        Assert.That((state["ev.start"], state["ev.answer.0"], state["ev.answer.1"]), Is.EqualTo(("1", "1", "1")), "which events went out");
        Assert.That(state["job"], Does.Contain(dialId));
        Assert.That(await _redis.Db.SetContainsAsync("{redswitch}.owned." + _server.Service.InstanceId, dialId), Is.True, "the index entry");
        Assert.That(state["org_id"], Is.EqualTo(Org));
        Assert.That(state["user_id"], Is.EqualTo(User));
        Assert.That(state["node"], Is.EqualTo($"127.0.0.1:{_sim.Port}"));
        Assert.That(await _sim.ChannelExistsAsync(state["uuid_0"]), Is.True);
        Assert.That(await _sim.ChannelExistsAsync(state["uuid_1"]), Is.True);

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777-777-7777", "id": "b-1"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge", "\"b-1\"")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        var barge = await BargeUuidAsync();
        Assert.That(barge, Is.Not.Null);
        Assert.That((string?)await _redis.Db.HashGetAsync($"redswitch.call.{{{dialId}}}", "uuid_2"), Is.EqualTo(barge));
        Assert.That(await _sim.GetEavesdropModeAsync(barge!), Is.EqualTo("listen"));

        await watch.SendAsync("""{"type": "whisper", "id": 7}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("whisper", "7")));
        Assert.That(await WaitModeAsync(barge!, "target"), Is.EqualTo("target"));

        await watch.SendAsync("""{"type": "threeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("threeway")));
        Assert.That(await WaitModeAsync(barge!, "both"), Is.EqualTo("both"));

        await watch.SendAsync("""{"type": "unthreeway"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("unthreeway")));
        Assert.That(await WaitModeAsync(barge!, "target"), Is.EqualTo("target"));

        await watch.SendAsync("""{"type": "mute"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("mute")));
        Assert.That(await WaitModeAsync(barge!, "listen"), Is.EqualTo("listen"));

        Assert.That((await _redis.Db.ListRangeAsync(Key(dialId))).Select(v => (string)v!), Is.EquivalentTo(new[] { "ACTIVE.2", "ACTIVE.1", "ACTIVE.0" }));

        await watch.SendAsync("""{"type": "hangup", "id": "h"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("hangup", "\"h\"")));
        var tail = await watch.CollectAsync(IsHangup, 3);
        Assert.That(tail.Where(IsHangup), Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING"), Hangup(2, "NORMAL_CLEARING") }));
        await watch.ExpectQuietAsync(0.5);

        Assert.That(await _redis.Db.KeyExistsAsync(Key(dialId)), Is.False, "active list gone");
        var ended = await _redis.Db.HashGetAsync($"redswitch.call.{{{dialId}}}", "ended_at");
        Assert.That((long)ended, Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds()), "the state stays for the grace, with when the call ended");
        var events = watch.All.Where(m => !IsAck(m)).ToList();
        var history = (await _redis.Db.ListRangeAsync(History)).Select(v => (string)v!).Reverse().ToList();
        Assert.That(history, Is.EqualTo(events));
        var hTtl = await _redis.Db.KeyTimeToLiveAsync(History);
        Assert.That(hTtl!.Value.TotalSeconds, Is.InRange(14000, 14400));
        var dTtl = await _redis.Db.KeyTimeToLiveAsync($"redswitch.dialled.{dialId}");
        Assert.That(dTtl!.Value.TotalSeconds, Is.InRange(86000, 86400));
        await WaitNoChannelsAsync();
    }

    private async Task WaitNoChannelsAsync()
    {
        for (var i = 0; i < 100 && _sim.LiveChannels > 0; i++) await Task.Delay(20);
        Assert.That(_sim.LiveChannels, Is.Zero, "every simulated channel hung up");
    }

    [TestCase("15550000486", "USER_BUSY")]
    [TestCase("15550000603", "CALL_REJECTED")]
    [TestCase("15550000404", "UNALLOCATED_NUMBER")]
    [TestCase("15550000408", "NO_ANSWER")]
    public async Task CalleeNeverAnswers(string callee, string cause)
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: callee));
        var got = await watch.CollectAsync(IsHangup, 2, 10);
        Assert.That(got.Take(2), Is.EqualTo(new[] { Start(dialId), Answer(0) }));
        Assert.That(got.Skip(2), Is.EquivalentTo(new[] { Hangup(1, cause), Hangup(0, cause) }));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(await _redis.Db.KeyExistsAsync(Key(dialId)), Is.False);
        var history = (await _redis.Db.ListRangeAsync(History)).Select(v => (string)v!).Reverse();
        Assert.That(history, Is.EqualTo(watch.All));
        await WaitNoChannelsAsync();
    }

    [Test]
    public async Task CallerDoesNotAnswer()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, caller: "15550000408"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Hangup(0, "NO_ANSWER")));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(await _redis.Db.KeyExistsAsync(Key(dialId)), Is.False);
    }

    [Test]
    public async Task CalleeHangsUpAfterAnswering()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, callee: "15550000480"));
        var got = await watch.CollectAsync(IsHangup, 2, 10);
        Assert.That(got, Is.EqualTo(new[] { Start(dialId), Answer(0), Answer(1), Hangup(1, "NORMAL_CLEARING"), Hangup(0, "NORMAL_CLEARING") }));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(await _redis.Db.KeyExistsAsync(Key(dialId)), Is.False);
        await WaitNoChannelsAsync();
    }

    [Test]
    public async Task HangupWhileCallerRings()
    {
        _sim.SetBehaviour("15550000111", PhoneBehaviour.NoAnswer(null));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, caller: "15550000111"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        await Task.Delay(200);
        await watch.SendAsync("""{"type": "hangup"}""");
        var got = await watch.CollectAsync(IsHangup, 1);
        if (!got.Any(IsAck)) got.Add(await watch.NextAsync());
        Assert.That(got, Is.EquivalentTo(new[] { Ack("hangup"), Hangup(0, "ORIGINATOR_CANCEL") }));
        await watch.ExpectQuietAsync(0.5);
        await WaitNoChannelsAsync();
    }

    [Test]
    public async Task ExpiredJobFails()
    {
        var before = _sim.SessionsSinceStartup;
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        var old = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1000;
        await PushAsync(_redis, Call(dialId, extra: $", \"created_at\": {old}"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Failure("expired")));
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead"), Is.EqualTo(1));
        Assert.That(_sim.SessionsSinceStartup, Is.EqualTo(before));
        var history = (await _redis.Db.ListRangeAsync(History)).Select(v => (string)v!);
        Assert.That(history, Is.EqualTo(new[] { Failure("expired") }));
    }

    [Test]
    public async Task FreshCreatedAtIsDialled()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId, extra: $", \"created_at\": {DateTimeOffset.UtcNow.ToUnixTimeSeconds()}, \"note\": [1]"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(1)));
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
    }

    [Test]
    public async Task SameDialIdTwiceRingsOnce()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        var sessions = _sim.SessionsSinceStartup;
        await PushAsync(_redis, Call(dialId));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Start(dialId)));
        await PushAsync(_redis, Call(dialId));
        for (var i = 0; i < 100 && await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead") == 0; i++) await Task.Delay(20);
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead"), Is.EqualTo(1));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(0)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(1)));
        await watch.ExpectQuietAsync(0.5);
        Assert.That(_sim.SessionsSinceStartup, Is.EqualTo(sessions + 2), "one caller leg and one callee leg");
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 2);
    }

    [Test]
    public async Task ControlFailures()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);

        async Task Expect(string message, string reply)
        {
            await watch.SendAsync(message);
            Assert.That(await watch.NextAsync(), Is.EqualTo(reply), message);
        }

        await Expect("""{"type": "dance"}""", ControlFailure("dance", "unknown type"));
        await Expect("""{"type": "dance", "id": "d-1"}""", "{\"type\": \"failure\", \"event\": \"dance\", \"cause\": \"unknown type\", \"id\": \"d-1\"}");
        await Expect("not json", ControlFailure("unknown", "invalid json"));
        await Expect("""{"no": "type"}""", ControlFailure("unknown", "missing type"));
        // valid JSON whose string cannot be a .NET string (an escaped lone surrogate)
        await Expect("""{"type": "\ud800"}""", ControlFailure("unknown", "invalid json"));
        await Expect("""{"type": "barge", "phone_number": "\udc00"}""", ControlFailure("unknown", "invalid json"));
        await Expect("""{"type": "whisper"}""", ControlFailure("whisper", "no barge leg"));
        await Expect("""{"type": "mute"}""", ControlFailure("mute", "no barge leg"));
        await Expect("""{"type": "threeway"}""", ControlFailure("threeway", "no barge leg"));
        await Expect("""{"type": "barge", "phone_number": "1\n\napi hupall", "caller_id": "1"}""", ControlFailure("barge", "invalid phone_number"));
        await Expect("""{"type": "barge", "phone_number": "15550000777", "caller_id": "1'2"}""", ControlFailure("barge", "invalid caller_id"));

        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        await Expect("""{"type": "barge", "phone_number": "15550000778", "caller_id": "777"}""", ControlFailure("barge", "barge already active"));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        await Expect("""{"type": "unthreeway"}""", ControlFailure("unthreeway", "not in threeway"));
        await Expect("""{"type": "barge", "phone_number": "15550000778", "caller_id": "777"}""", ControlFailure("barge", "barge already active"));

        // our own publications are ignored
        await watch.SendAsync(Ack("whisper"));
        await watch.SendAsync(Answer(0));
        await watch.SendAsync(Hangup(1, "USER_BUSY"));
        await watch.SendAsync(Start(dialId));
        await watch.SendAsync(ControlFailure("x", "y"));
        await watch.SendAsync(Failure("y"));
        await watch.ExpectQuietAsync(0.3);

        await watch.SendAsync("""{"type": "hangup"}""");
        var tail = await watch.CollectAsync(m => IsHangup(m) || IsAck(m), 4);
        Assert.That(tail.Count(IsAck), Is.EqualTo(1));
        await watch.ExpectQuietAsync(0.3);

        // within 60 s after the end: a failure per message
        await Expect("""{"type": "hangup"}""", ControlFailure("hangup", "call ended"));
        await Expect("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777"}""", ControlFailure("barge", "call ended"));
    }

    [Test]
    public async Task BargeAgainAfterTheFirstBargerLeft()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000480", "caller_id": "777"}""");
        var got = await watch.CollectAsync(IsHangup, 1);
        Assert.That(got, Is.EqualTo(new[] { Ack("barge"), Answer(2), Hangup(2, "NORMAL_CLEARING") }));
        await watch.SendAsync("""{"type": "whisper"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(ControlFailure("whisper", "no barge leg")));
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000777", "caller_id": "777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        await watch.SendAsync("""{"type": "hangup"}""");
        var tail = await watch.CollectAsync(IsHangup, 3);
        Assert.That(tail.Where(IsHangup), Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING"), Hangup(2, "NORMAL_CLEARING") }));
    }

    [Test]
    public async Task ModeSentWhileBargerRingsIsAppliedOnAnswer()
    {
        _sim.SetBehaviour("15550000222", PhoneBehaviour.AnswerAfterDelay(TimeSpan.FromMilliseconds(600)));
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        await PushAsync(_redis, Call(dialId));
        await watch.CollectAsync(m => m == Answer(1), 1);
        await watch.SendAsync("""{"type": "barge", "phone_number": "15550000222", "caller_id": "777"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("barge")));
        await watch.SendAsync("""{"type": "whisper"}""");
        Assert.That(await watch.NextAsync(), Is.EqualTo(Answer(2)));
        Assert.That(await watch.NextAsync(), Is.EqualTo(Ack("whisper")));
        var barge = await BargeUuidAsync();
        Assert.That(await WaitModeAsync(barge!, "target"), Is.EqualTo("target"));
        await watch.SendAsync("""{"type": "hangup"}""");
        await watch.CollectAsync(IsHangup, 3);
    }

    private static readonly string[] Fields =
        ["call_provider", "callee_number", "caller_id_lega", "caller_id_legb", "caller_number", "dial_id", "org_id", "user_id"];

    public static IEnumerable<TestCaseData> BadJobs()
    {
        static string Mutate(Action<JsonObject> change)
        {
            var o = JsonNode.Parse(Call("DIAL"))!.AsObject();
            change(o);
            return o.ToJsonString();
        }
        yield return new TestCaseData("not json", null, "invalid json").SetName("Bad job: not JSON");
        yield return new TestCaseData(Mutate(o => o["type"] = "asp-sms"), "unknown type", null).SetName("Bad job: unknown type");
        yield return new TestCaseData(Mutate(o => o.Remove("type")), "missing type", "missing type").SetName("Bad job: no type");
        foreach (var f in Fields)
        {
            // Without a valid dial_id there is no channel to publish on: dead-lettered only.
            yield return new TestCaseData(Mutate(o => o.Remove(f)), f == "dial_id" ? null : $"missing {f}", $"missing {f}").SetName($"Bad job: missing {f}");
            yield return new TestCaseData(Mutate(o => o[f] = "15105625882\n\nbgapi originate loopback/15550000001 &park\n\n"), f == "dial_id" ? null : $"invalid {f}", $"invalid {f}")
                .SetName($"Bad job: ESL command injected in {f}");
        }
        yield return new TestCaseData(Mutate(o => o["callee_number"] = "1415,697098"), "invalid callee_number", null).SetName("Bad job: comma in a number");
        yield return new TestCaseData(Mutate(o => o["caller_number"] = "alice@host}x"), "invalid caller_number", null).SetName("Bad job: brace in a SIP URI");
        yield return new TestCaseData(Mutate(o => o["caller_id_lega"] = "John Doe"), "invalid caller_id_lega", null).SetName("Bad job: space in a caller id");
        yield return new TestCaseData(Mutate(o => o["call_provider"] = "gw|other"), "invalid call_provider", null).SetName("Bad job: pipe in the provider");
        yield return new TestCaseData(Mutate(o => o["org_id"] = "org.1"), "invalid org_id", null).SetName("Bad job: dot in org_id");
        yield return new TestCaseData(Mutate(o => o["user_id"] = new string('u', 129)), "invalid user_id", "invalid user_id").SetName("Bad job: user_id too long");
        yield return new TestCaseData(Mutate(o => o["callee_number"] = 12), "invalid callee_number", null).SetName("Bad job: two-digit number");
    }

    [TestCaseSource(nameof(BadJobs))]
    public async Task BadJobIsRefusedDeadLetteredAndNeverDialled(string template, string? failure, string? deadCause = null)
    {
        var dialId = NewDialId();
        var raw = template.Replace("DIAL", dialId);
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        var sessions = _sim.SessionsSinceStartup;
        await PushAsync(_redis, raw);
        for (var i = 0; i < 100 && await _redis.Db.ListLengthAsync($"{{{JobList}}}.dead") == 0; i++) await Task.Delay(20);
        var dead = (await _redis.Db.ListRangeAsync($"{{{JobList}}}.dead")).Select(v => JsonNode.Parse((string)v!)!).ToList();
        Assert.That(dead, Has.Count.EqualTo(1));
        Assert.That((string?)dead[0]["job"], Is.EqualTo(raw), "the raw job is kept");
        Assert.That((string?)dead[0]["cause"], Is.EqualTo(deadCause ?? failure));
        Assert.That((long)dead[0]["at"]!, Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Within(5));
        if (failure is null) await watch.ExpectQuietAsync(0.3);
        else
        {
            Assert.That(await watch.NextAsync(), Is.EqualTo(Failure(failure)));
            await watch.ExpectQuietAsync(0.2);
        }
        Assert.That(_sim.SessionsSinceStartup, Is.EqualTo(sessions), "nothing dialled");
        Assert.That(await _redis.Db.ListLengthAsync(JobList), Is.Zero);
        Assert.That(await _redis.Db.ListLengthAsync($"{{{JobList}}}.processing.{_server.Service.InstanceId}"), Is.Zero);
        Assert.That(await _redis.Db.KeyExistsAsync($"redswitch.dialled.{dialId}"), Is.False);
    }
}
