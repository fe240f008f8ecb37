using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Redswitch.Protocol.Headers;
using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

/// <summary>
/// <c>uuid_dump &lt;uuid&gt; [json]</c> (esl-protocol.md §7.1) over real sockets: the dump of a channel has the
/// header names of a real channel event of that state in the captures, values in the same formats.
/// </summary>
[TestFixture, CancelAfter(30000)]
public class UuidDumpTests : SimTestBase
{
    // the …408 phone must still ring while the test looks at it
    protected override void Configure(SimulatorOptions o) => o.RingTimeout = TimeSpan.FromSeconds(20);

    /// <summary>A plain dump: URL-encoded "Name: value" lines, then an empty line; the names in order, values decoded.</summary>
    private static List<KeyValuePair<string, string>> ParsePlain(string body)
    {
        Assert.That(body, Does.EndWith("\n\n"), "the dump ends with an empty line");
        var lines = body[..^2].Split('\n');
        var list = new List<KeyValuePair<string, string>>();
        foreach (var line in lines)
        {
            var i = line.IndexOf(": ", StringComparison.Ordinal);
            Assert.That(i, Is.GreaterThan(0), $"not a header line: '{line}'");
            Assert.That(line[(i + 2)..], Does.Not.Contain(' '), "values are URL-encoded");
            list.Add(new(line[..i], EslUrlEncoding.Decode(Encoding.UTF8.GetBytes(line[(i + 2)..]))));
        }
        return list;
    }

    private static Dictionary<string, string> ParseJson(string body)
    {
        Assert.That(body, Does.StartWith("{").And.EndWith("}"), "one JSON object, no trailing newline");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    private static string Get(List<KeyValuePair<string, string>> h, string name) =>
        h.FirstOrDefault(kv => kv.Key == name).Value ?? throw new AssertionException($"no {name} in the dump");

    /// <summary>The captured controller command of a scenario (the n-th one starting with <paramref name="prefix"/>).</summary>
    private static string CapturedCommand(string scenario, string prefix) =>
        CaptureReplayTests.Analyse(CaptureReplayTests.Load(scenario)).Steps.First(s => s.Command.StartsWith(prefix, StringComparison.Ordinal)).Command;

    /// <summary>The header names of a captured event (multiset as a sorted list).</summary>
    private static List<string> CapturedNames(string scenario, string eventName, string channelName, params string[] leaveOut)
    {
        var (_, frames) = CaptureReplayTests.Analyse(CaptureReplayTests.Load(scenario));
        var e = frames["inbound"].OfType<EslEvent>().First(e => e.EventName == eventName && e["Channel-Name"] == channelName);
        return e.EventHeaders.Select(h => h.Name).Where(n => !leaveOut.Contains(n)).Order(StringComparer.Ordinal).ToList();
    }

    private static readonly string[] PerEvent = ["Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence"];

    [Test]
    public async Task RingingChannel_PlainAndJsonHaveTheHeadersOfACapturedRingingEvent()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_PROGRESS BACKGROUND_JOB");
        // the cancel-ringing capture's originate, with a fresh uuid: the caller's phone (…408) rings
        var captured = CapturedCommand("cancel-ringing", "bgapi originate");
        var capturedUuid = Regex.Match(captured, "origination_uuid=([0-9a-f-]{36})").Groups[1].Value;
        var u = NewUuid();
        await c.CommandAsync(captured.Replace(capturedUuid, u, StringComparison.Ordinal));
        await c.WaitForEventAsync("CHANNEL_PROGRESS", u);

        var plain = ParsePlain(await c.ApiAsync($"uuid_dump {u}"));
        Assert.That(plain.Select(kv => kv.Key).Order(StringComparer.Ordinal),
            Is.EqualTo(CapturedNames("cancel-ringing", "CHANNEL_PROGRESS", "loopback/15550000408-a")),
            "the header names of the captured CHANNEL_PROGRESS of that ringing leg");
        Assert.That(plain[0], Is.EqualTo(new KeyValuePair<string, string>("Event-Name", "CHANNEL_DATA")));
        Assert.That(Get(plain, "Event-Calling-Function"), Is.EqualTo("uuid_dump_function"));
        Assert.That(Get(plain, "Unique-ID"), Is.EqualTo(u));
        Assert.That(Get(plain, "Channel-State"), Is.EqualTo("CS_CONSUME_MEDIA"));
        Assert.That(Get(plain, "Channel-Call-State"), Is.EqualTo("RINGING"));
        Assert.That(Get(plain, "Answer-State"), Is.EqualTo("ringing"));
        Assert.That(Get(plain, "Call-Direction"), Is.EqualTo("outbound"));
        Assert.That(Get(plain, "Caller-Caller-ID-Number"), Is.EqualTo("15105625882"));
        Assert.That(Get(plain, "Caller-Destination-Number"), Is.EqualTo("15550000408"));
        Assert.That(Get(plain, "Caller-Channel-Answered-Time"), Is.EqualTo("0"));
        Assert.That(Get(plain, "Caller-Channel-Progress-Time"), Does.Match("^[1-9][0-9]{15}$"), "µs since the epoch");
        Assert.That(Get(plain, "variable_call-side"), Is.EqualTo("0"));
        Assert.That(Get(plain, "variable_dial_id"), Is.EqualTo("dial-d94beb9d"));
        Assert.That(Get(plain, "variable_origination_uuid"), Is.EqualTo(u));

        var json = ParseJson(await c.ApiAsync($"uuid_dump {u} json"));
        Assert.That(json.Keys, Is.EqualTo(plain.Select(kv => kv.Key)), "the same headers, in the same order");
        foreach (var (name, value) in plain.Where(kv => !PerEvent.Contains(kv.Key)))
            Assert.That(json[name], Is.EqualTo(value), name + " (raw in JSON, URL-encoded in the plain dump)");

        await c.ApiAsync($"uuid_kill {u}");
    }

    [Test]
    public async Task AnsweredChannel_HasTheHeadersOfItsCapturedEventAndAnswerTime()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_EXECUTE BACKGROUND_JOB");
        // inbound-basics' second originate (caller-id name 'José Müller'): the phone answers, the leg parks
        var captured = CapturedCommand("inbound-basics", "bgapi originate {origination_uuid=2eb9f577");
        var u = NewUuid();
        var line = captured.Split('\n')[0].Replace("2eb9f577-987e-4ec1-98da-1d51b3b0f590", u, StringComparison.Ordinal);
        Assert.That(await c.BgApiAsync(line[("bgapi ".Length)..]), Is.EqualTo($"+OK {u}\n"));
        await c.WaitForAsync(m => m is EslEvent e && e.EventName == "CHANNEL_EXECUTE" && e.UniqueId == u && e["Application"] == "park");

        var body = await c.ApiAsync($"uuid_dump {u}");
        var plain = ParsePlain(body);
        Assert.That(plain.Select(kv => kv.Key).Order(StringComparer.Ordinal),
            Is.EqualTo(CapturedNames("inbound-basics", "CHANNEL_EXECUTE", "loopback/15550000100-a", "Application", "Application-UUID")),
            "the header names of the captured CHANNEL_EXECUTE(park) of that leg, without the application's own");
        Assert.That(Get(plain, "Unique-ID"), Is.EqualTo(u));
        Assert.That(Get(plain, "Channel-State"), Is.EqualTo("CS_EXECUTE"));
        Assert.That(Get(plain, "Channel-Call-State"), Is.EqualTo("ACTIVE"));
        Assert.That(Get(plain, "Answer-State"), Is.EqualTo("answered"));
        Assert.That(Get(plain, "Call-Direction"), Is.EqualTo("outbound"));
        var answered = long.Parse(Get(plain, "Caller-Channel-Answered-Time"), System.Globalization.CultureInfo.InvariantCulture);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        Assert.That(answered, Is.InRange(now - 30_000_000, now), "µs since the epoch");
        Assert.That(Get(plain, "variable_origination_uuid"), Is.EqualTo(u));
        Assert.That(Get(plain, "variable_current_application"), Is.EqualTo("park"));
        // encoded as in events: the caller-id name the answered leg now shows as its callee
        Assert.That(body, Does.Contain("\nCaller-Callee-ID-Name: Jos%C3%A9%20M%C3%BCller\n"));
        Assert.That(Get(plain, "Caller-Callee-ID-Name"), Is.EqualTo("José Müller"));

        var json = ParseJson(await c.ApiAsync($"uuid_dump {u} json"));
        Assert.That(json.Keys, Is.EqualTo(plain.Select(kv => kv.Key)));
        Assert.That(json["Answer-State"], Is.EqualTo("answered"));
        Assert.That(json["Caller-Callee-ID-Name"], Is.EqualTo("José Müller"));

        // bgapi gives the same output as the BACKGROUND_JOB body
        var bg = ParsePlain(await c.BgApiAsync($"uuid_dump {u}"));
        Assert.That(bg.Select(kv => kv.Key), Is.EqualTo(plain.Select(kv => kv.Key)));
        Assert.That(ParseJson(await c.BgApiAsync($"uuid_dump {u} json"))["Unique-ID"], Is.EqualTo(u));
        await c.ApiAsync($"uuid_kill {u}");
    }

    [Test]
    public async Task GoneChannel_NoSuchChannel()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB");
        var u = NewUuid();
        Assert.That(await c.BgApiAsync($"originate {{origination_uuid={u}}}sofia/gateway/gw/15550000100 &park()"), Is.EqualTo($"+OK {u}\n"));
        Assert.That(ParsePlain(await c.ApiAsync($"uuid_dump {u}")), Is.Not.Empty);
        Assert.That(await c.ApiAsync($"uuid_kill {u}"), Is.EqualTo("+OK\n"));
        // down at once: it can no longer be located, even before CHANNEL_HANGUP_COMPLETE
        Assert.That(await c.ApiAsync($"uuid_dump {u}"), Is.EqualTo("-ERR No such channel!\n"));
        await c.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", u);
        Assert.That(await c.ApiAsync($"uuid_dump {u}"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.ApiAsync($"uuid_dump {u} json"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.BgApiAsync($"uuid_dump {u} json"), Is.EqualTo("-ERR No such channel!\n"));
    }

    [Test]
    public async Task BadUuidAndMissingArgument()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain BACKGROUND_JOB");
        Assert.That(await c.ApiAsync("uuid_dump not-a-uuid"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.ApiAsync("uuid_dump 00000000-0000-0000-0000-000000000000 json"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.BgApiAsync("uuid_dump not-a-uuid"), Is.EqualTo("-ERR No such channel!\n"));
        Assert.That(await c.ApiAsync("uuid_dump"), Is.EqualTo("-USAGE: <uuid> [format]\n"));
    }

    [Test]
    public async Task PlainFormatWritesRawValuesInBrackets()
    {
        await using var c = await ConnectAsync();
        var u = NewUuid();
        Assert.That(await c.ApiAsync($"originate {{origination_uuid={u},origination_caller_id_name='A B'}}sofia/gateway/gw/15550000100 &park()"), Is.EqualTo($"+OK {u}\n"));
        var body = await c.ApiAsync($"uuid_dump {u} plain");
        Assert.That(body, Does.StartWith("Event-Name: [CHANNEL_DATA]\n").And.Contain($"\nUnique-ID: [{u}]\n")
            .And.Contain("\nvariable_origination_caller_id_name: [A B]\n").And.EndWith("]\n\n"));
        await c.ApiAsync($"uuid_kill {u}");
    }
}
