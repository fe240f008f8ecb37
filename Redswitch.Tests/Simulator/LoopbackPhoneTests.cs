using System.Text.RegularExpressions;
using System.Xml.Linq;
using Redswitch.Protocol.Messages;

namespace Redswitch.Tests.Simulator;

/// <summary>
/// A <c>loopback/N/context</c> dial makes two channels, as in FreeSWITCH: the <c>-a</c> leg the originate or bridge
/// gets, and the <c>-b</c> half, which runs the phone's extension (the captures' phones-context.xml).
/// </summary>
[TestFixture, CancelAfter(30000)]
public class LoopbackPhoneTests : SimTestBase
{
    private const string Subscribe = "event plain CHANNEL_CREATE CHANNEL_PROGRESS CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB";

    private static EslEvent Half(EslTestClient c, string number, string eventName, string? app = null) =>
        c.Events.First(e => e["Channel-Name"] == $"loopback/{number}-b" && e.EventName == eventName && (app == null || e["Application"] == app));

    /// <summary>Waits (bounded) until some event received so far, in any order, matches.</summary>
    private static async Task<EslEvent> Seen(EslTestClient c, Func<EslEvent, bool> pred, string what)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10); ; await Task.Delay(10))
        {
            if (c.Events.FirstOrDefault(pred) is { } e) return e;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("never received " + what);
        }
    }

    private static Task<EslEvent> SeenHalf(EslTestClient c, string number, string eventName, string? app = null) =>
        Seen(c, e => e["Channel-Name"] == $"loopback/{number}-b" && e.EventName == eventName && (app == null || e["Application"] == app),
            $"{eventName} {app} of loopback/{number}-b");

    [Test]
    public async Task BusyPhone_ItsHangupApplicationCarriesTheCause()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync(Subscribe);
        var u = NewUuid();
        Assert.That(await c.BgApiAsync($"originate {{origination_uuid={u}}}loopback/15550000486/phones &park"), Is.EqualTo("-ERR USER_BUSY\n"));
        var bComplete = await SeenHalf(c, "15550000486", "CHANNEL_HANGUP_COMPLETE");

        var exec = Half(c, "15550000486", "CHANNEL_EXECUTE", "hangup");
        var done = Half(c, "15550000486", "CHANNEL_EXECUTE_COMPLETE", "hangup");
        Assert.That(exec["Application-Data"], Is.EqualTo("USER_BUSY"));
        Assert.That(exec["variable_current_application_data"], Is.EqualTo("USER_BUSY"));
        Assert.That(done["Application-Data"], Is.EqualTo("USER_BUSY"));
        Assert.That(done["Application-Response"], Is.EqualTo("_none_"));
        Assert.That(done["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
        Assert.That(exec["Application-UUID"], Is.EqualTo(done["Application-UUID"]));
        Assert.That(bComplete["variable_last_arg"], Is.EqualTo("USER_BUSY"));

        // the halves know each other; the -a leg goes down with the phone's cause
        var half = bComplete.UniqueId!;
        Assert.That(bComplete["variable_other_loopback_leg_uuid"], Is.EqualTo(u));
        Assert.That(bComplete["variable_loopback_leg"], Is.EqualTo("B"));
        Assert.That(bComplete["Call-Direction"], Is.EqualTo("inbound"));
        var aComplete = await Seen(c, e => e.EventName == "CHANNEL_HANGUP_COMPLETE" && e.UniqueId == u, "HANGUP_COMPLETE of -a");
        Assert.That(aComplete["Hangup-Cause"], Is.EqualTo("USER_BUSY"));
        Assert.That(aComplete["variable_other_loopback_leg_uuid"], Is.EqualTo(half));
        Assert.That(aComplete["variable_caller_id"], Is.EqualTo("0000000000"), "no caller-id name: the bare number");
    }

    [Test]
    public async Task CancelledWhileRinging_TheCallersPhoneRanRingReady()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync(Subscribe);
        var u = NewUuid();
        var reply = await c.CommandAsync($"bgapi originate {{origination_uuid={u},dial_id=d1,call-side=0}}loopback/15550000408/phones &park");
        await SeenHalf(c, "15550000408", "CHANNEL_EXECUTE", "sleep");
        var ring = Half(c, "15550000408", "CHANNEL_EXECUTE", "ring_ready");
        Assert.That(ring["Application-Data"], Is.Null, "ring_ready has no argument");
        Assert.That(ring["variable_dial_id"], Is.EqualTo("d1"), "the -b half carries the dial string's variables");
        Assert.That(Half(c, "15550000408", "CHANNEL_EXECUTE_COMPLETE", "ring_ready")["Application-Response"], Is.EqualTo("_none_"));
        Assert.That(Half(c, "15550000408", "CHANNEL_PROGRESS")["Answer-State"], Is.EqualTo("ringing"));
        Assert.That(c.Events.Any(e => e.EventName == "CHANNEL_PROGRESS" && e.UniqueId == u), Is.True, "ring_ready on -b rings -a too");

        Assert.That(await c.ApiAsync($"uuid_kill {u} ORIGINATOR_CANCEL"), Is.EqualTo("+OK\n"));
        var job = await Seen(c, e => e.EventName == "BACKGROUND_JOB" && e.JobUuid == reply.JobUuid, "BACKGROUND_JOB");
        Assert.That(job.EventBodyText, Is.EqualTo("-ERR ORIGINATOR_CANCEL\n"));
        var bComplete = await SeenHalf(c, "15550000408", "CHANNEL_HANGUP_COMPLETE");
        Assert.That(bComplete["Hangup-Cause"], Is.EqualTo("ORIGINATOR_CANCEL"));
        var sleep = Half(c, "15550000408", "CHANNEL_EXECUTE_COMPLETE", "sleep");
        Assert.That(sleep["Application-Data"], Is.EqualTo("1000"));
        Assert.That(sleep["Hangup-Cause"], Is.EqualTo("ORIGINATOR_CANCEL"));
    }

    /// <summary>With the default timings every built-in phone runs exactly its extension of phones-context.xml.</summary>
    [Test]
    public async Task EveryPhoneRunsItsCapturedExtension()
    {
        var xml = XDocument.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "Captures", "phones-context.xml"));
        var extensions = xml.Descendants("extension").Select(x =>
        (
            Pattern: new Regex(x.Element("condition")!.Attribute("expression")!.Value),
            Actions: x.Element("condition")!.Elements("action").Select(a => $"{a.Attribute("application")!.Value} {a.Attribute("data")?.Value}".TrimEnd()).ToList()
        )).ToList();
        string[] numbers = ["15550000486", "15550000408", "15550000603", "15550000404", "15550000480", "15550000100"];

        await using var c = await ConnectAsync();
        await c.CommandAsync(Subscribe);
        var legs = new Dictionary<string, string>();
        foreach (var n in numbers)
        {
            legs[n] = NewUuid();
            await c.CommandAsync($"bgapi originate {{origination_uuid={legs[n]}}}loopback/{n}/phones &park");
        }
        foreach (var n in numbers)
        {
            var expected = extensions.First(x => x.Pattern.IsMatch(n)).Actions;
            var last = expected[^1].Split(' ')[0];
            await SeenHalf(c, n, "CHANNEL_EXECUTE", last);
            var ran = c.Events.Where(e => e["Channel-Name"] == $"loopback/{n}-b" && e.EventName == "CHANNEL_EXECUTE")
                .Select(e => $"{e["Application"]} {e["Application-Data"]}".TrimEnd()).ToList();
            Assert.That(ran, Is.EqualTo(expected), n);
        }
        foreach (var u in legs.Values) await c.ApiAsync($"uuid_kill {u}");
    }

    [Test]
    public async Task OtherEndpointsHaveNoSecondHalf()
    {
        await using var c = await ConnectAsync();
        await c.CommandAsync(Subscribe);
        var u = NewUuid();
        Assert.That(await c.BgApiAsync($"originate {{origination_uuid={u}}}sofia/gateway/gw/15550000100 &park()"), Is.EqualTo($"+OK {u}\n"));
        Assert.That(Sim.LiveChannels, Is.EqualTo(1));
        Assert.That(c.Events.Where(e => e.EventName != "BACKGROUND_JOB").Select(e => e.UniqueId).Distinct(), Is.EqualTo(new[] { u }));
        await c.ApiAsync($"uuid_kill {u}");
    }
}
