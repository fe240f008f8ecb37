using System.Text;
using Microsoft.Extensions.Time.Testing;
using Moq;
using Redswitch.Calls;
using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;
using Redswitch.Protocol;
using Redswitch.Protocol.Messages;
using Redswitch.Server.Calls;
using Redswitch.Server.Configuration;
using Redswitch.Server.Esl;
using Redswitch.Server.Metrics;
using Redswitch.Server.Redis;
using Redswitch.Tests.Infrastructure;

namespace Redswitch.Tests.Calls;

/// <summary>
/// One <see cref="CallOwner"/> wired to mocks that record everything it does, in order, as text: what it publishes
/// (<see cref="Published"/>), what it asks of the control link (<see cref="Api"/>, <see cref="BgApi"/>,
/// <see cref="LinkCalls"/>) and what it sends on outbound sockets (<see cref="FakeSocket.Sent"/>). Time is a
/// <see cref="FakeTimeProvider"/>; FreeSWITCH's answers are given by invoking the recorded callbacks.
/// </summary>
internal sealed class OwnerHarness
{
    public const string Advertise = "10.0.0.5:8084";
    public const string CallStartJson = "{\"type\": \"call-start\", \"dial_id\": \"d1\"}";

    public static readonly CallJob Job = new("d1", "o1", "u1", "prov", "15551230001", "15551230002", "5550001", "5550002", null);

    public static readonly CallSettings Settings = new(
        RingTimeout: TimeSpan.FromSeconds(30), SocketConnectTimeout: TimeSpan.FromSeconds(15),
        SocketLinger: TimeSpan.FromSeconds(30), EndedLinger: TimeSpan.FromSeconds(60), Advertise, LogPhoneNumbers: false);

    public sealed record ApiCall(string Line, Action<EslMessage?> OnReply);

    public sealed record BgApiCall(string Line, string JobUuid, Action<EslMessage?> OnReply, Action<EslEvent> OnJob);

    public FakeTimeProvider Time { get; } = new();
    public Mock<IControlLink> Link { get; } = new(MockBehavior.Strict);
    public Mock<ICallPublisher> Publisher { get; } = new(MockBehavior.Strict);
    public CallRegistry Registry { get; } = new();
    public RedswitchMetrics Metrics { get; } = new();
    public TestLog Log { get; } = new();
    public CallOwner Owner { get; }

    /// <summary>"start {json}", "side N +|- {json}", "event {json}", "reply {json}", "save f=v,…", "delete".</summary>
    public List<string> Published { get; } = [];
    /// <summary>Publications for another dial_id, org or user (none expected).</summary>
    public List<string> WrongIds { get; } = [];
    public List<ApiCall> Api { get; } = [];
    public List<BgApiCall> BgApi { get; } = [];
    /// <summary>"placed", "ended", "follow uuid", "unfollow uuid", "forget jobUuid".</summary>
    public List<string> LinkCalls { get; } = [];
    public List<JobSettlement> Settled { get; } = [];
    public Dictionary<string, string> State { get; } = [];

    public bool LinkUp { get; set; } = true;
    public int Generation { get; set; } = 1;
    /// <summary>What TryApi/TryBgApi answer: false means the link took nothing.</summary>
    public bool LinkTakes { get; set; } = true;
    public int Unsubscribed { get; private set; }

    public OwnerHarness(CallSettings? settings = null)
    {
        Link.SetupGet(l => l.Node).Returns(new EslNode("fs1", 8021));
        Link.SetupGet(l => l.IsUp).Returns(() => LinkUp);
        Link.SetupGet(l => l.Generation).Returns(() => Generation);
        Link.Setup(l => l.TryApi(It.IsAny<string>(), It.IsAny<Action<EslMessage?>>()))
            .Returns((string line, Action<EslMessage?> onReply) =>
            {
                if (LinkTakes) Api.Add(new ApiCall(line, onReply));
                return LinkTakes;
            });
        Link.Setup(l => l.TryBgApi(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<Action<EslMessage?>>(), It.IsAny<Action<EslEvent>>()))
            .Returns((string line, string jobUuid, Action<EslMessage?> onReply, Action<EslEvent> onJob) =>
            {
                if (LinkTakes) BgApi.Add(new BgApiCall(line, jobUuid, onReply, onJob));
                return LinkTakes;
            });
        Link.Setup(l => l.ForgetJob(It.IsAny<string>())).Callback((string j) => LinkCalls.Add("forget " + j));
        Link.Setup(l => l.Follow(It.IsAny<string>())).Callback((string u) => LinkCalls.Add("follow " + u));
        Link.Setup(l => l.Unfollow(It.IsAny<string>())).Callback((string u) => LinkCalls.Add("unfollow " + u));
        Link.Setup(l => l.CallPlaced()).Callback(() => LinkCalls.Add("placed"));
        Link.Setup(l => l.CallEnded()).Callback(() => LinkCalls.Add("ended"));

        Publisher.Setup(p => p.Start(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>()))
            .Callback((string d, string o, string u, string json) => Record(d, o, u, "start " + json));
        Publisher.Setup(p => p.Event(It.IsAny<string>(), It.IsAny<string?>(), It.IsAny<string?>(), It.IsAny<string>(), It.IsAny<string>()))
            .Callback((string d, string? o, string? u, string json, string mark) => Record(d, o, u, "event " + json));
        Publisher.Setup(p => p.SideEvent(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<string>(), It.IsAny<int>(), It.IsAny<bool>(), It.IsAny<string>()))
            .Callback((string d, string o, string u, int side, bool active, string json) => Record(d, o, u, $"side {side} {(active ? '+' : '-')} {json}"));
        Publisher.Setup(p => p.Reply(It.IsAny<string>(), It.IsAny<string>()))
            .Callback((string d, string json) => Record(d, "o1", "u1", "reply " + json));
        Publisher.Setup(p => p.SaveState(It.IsAny<string>(), It.IsAny<(string, string?)[]>()))
            .Callback((string d, (string Field, string? Value)[] fields) =>
            {
                foreach (var (f, v) in fields) State[f] = v!;
                Record(d, "o1", "u1", "save " + string.Join(",", fields.Select(f => $"{f.Field}={f.Value}")));
            });
        Publisher.Setup(p => p.DeleteState(It.IsAny<string>())).Callback((string d) => Record(d, "o1", "u1", "delete"));

        var ctx = new CallContext(settings ?? Settings, new DialStrings(new DialSettings("sofia/gateway/{provider}/{number}", "sofia/external/{number}", 30)),
            Publisher.Object, Registry, Metrics, Log.CreateLogger("test"), Time, "inst-1");
        Owner = new CallOwner(Job, ctx, Link.Object, () =>
        {
            Unsubscribed++;
            return Task.CompletedTask;
        });
        Assert.That(Registry.TryAdd(Owner), Is.True);
    }

    private void Record(string dialId, string? orgId, string? userId, string what)
    {
        if (dialId != "d1" || orgId != "o1" || userId != "u1") WrongIds.Add($"{dialId}/{orgId}/{userId}: {what}");
        Published.Add(what);
    }

    /// <summary>The state write at the call's end: its grace runs from now (SPEC §8.1).</summary>
    public string EndedAtLine => "save ended_at=" + Time.GetUtcNow().ToUnixTimeMilliseconds();

    public string A => Owner.CallerUuid;
    public string B => State.TryGetValue("uuid_1", out var b) ? b : Initial("uuid_1");
    public string G => State.TryGetValue("barge_next", out var g) ? g : Initial("barge_next");

    private string Initial(string field) => Owner.InitialState().Single(f => f.Field == field).Value;

    public bool Start() => Owner.Start(Settled.Add);

    /// <summary>Start, and FreeSWITCH's +OK to the caller's originate.</summary>
    public void Started()
    {
        Assert.That(Start(), Is.True);
        BgApi[0].OnReply(CommandReply.Create("+OK Job-UUID: " + BgApi[0].JobUuid, ("Job-UUID", BgApi[0].JobUuid)));
    }

    /// <summary>Started, and the caller's leg connected to the outbound server.</summary>
    public FakeSocket Connected()
    {
        Started();
        var socket = new FakeSocket();
        Assert.That(Owner.OnSocketConnected(socket.Object), Is.True);
        return socket;
    }

    public static EslEvent BackgroundJob(string jobUuid, string body) =>
        EslEvent.Create(EslEventFormat.Plain, [KeyValuePair.Create("Event-Name", "BACKGROUND_JOB"), KeyValuePair.Create("Job-UUID", jobUuid)], body);

    public static EslEvent Channel(string name, string uuid, params (string Name, string Value)[] headers) =>
        EslEvent.Create(EslEventFormat.Plain,
            [KeyValuePair.Create("Event-Name", name), KeyValuePair.Create("Unique-ID", uuid), .. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))]);

    public string[] ApiLines => [.. Api.Select(a => a.Line)];

    public double CallsTotal(string result) => Metrics.CallsByResult.WithLabels(result).Value;
}

/// <summary>An outbound socket: records what is sent on it; <see cref="OnSend"/> may answer at once.</summary>
internal sealed class FakeSocket
{
    public sealed record SentCommand(string Text, Action<EslMessage?>? OnReply, bool Flush);

    public Mock<ICallSocket> Mock { get; } = new(MockBehavior.Strict);
    public List<SentCommand> Sent { get; } = [];
    public int Closes { get; private set; }
    public bool Open { get; set; } = true;
    /// <summary>Runs inside TrySend, after the command is recorded (a closed session answers null from there).</summary>
    public Action<SentCommand>? OnSend { get; set; }

    public FakeSocket()
    {
        Mock.Setup(s => s.TrySend(It.IsAny<EslCommand>(), It.IsAny<Action<EslMessage?>?>(), It.IsAny<bool>()))
            .Returns((EslCommand c, Action<EslMessage?>? onReply, bool flush) =>
            {
                if (!Open) return false;
                var sent = new SentCommand(Text(c), onReply, flush);
                Sent.Add(sent);
                OnSend?.Invoke(sent);
                return true;
            });
        Mock.Setup(s => s.Close()).Callback(() => Closes++);
    }

    public ICallSocket Object => Mock.Object;

    public string[] Texts => [.. Sent.Select(s => s.Text)];

    /// <summary>The command as it goes on the wire, its lines joined with " | ".</summary>
    public static string Text(EslCommand c) => Encoding.UTF8.GetString(c.Wire.Span).TrimEnd('\n').Replace("\n", " | ");
}
