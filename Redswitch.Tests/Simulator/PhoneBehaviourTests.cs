using Redswitch.Protocol.Messages;
using Redswitch.Simulator;

namespace Redswitch.Tests.Simulator;

[TestFixture, CancelAfter(30000)]
public class PhoneBehaviourTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o)
    {
        o.RingTimeout = TimeSpan.FromMilliseconds(300);
        o.HangupDelay = TimeSpan.FromMilliseconds(300);
        o.AnswerDelay = TimeSpan.FromMilliseconds(100);
    }

    private async Task<(EslTestClient C, string Uuid, string Result)> Originate(string number, string vars = "")
    {
        var c = await ConnectAsync();
        await c.CommandAsync("event plain ALL");
        var u = NewUuid();
        var r = await c.BgApiAsync($"originate {{origination_uuid={u}{vars}}}sofia/gateway/gw/{number} &park()");
        return (c, u, r);
    }

    [TestCase("15550000486", "USER_BUSY")]
    [TestCase("15550000603", "CALL_REJECTED")]
    [TestCase("15550000404", "UNALLOCATED_NUMBER")]
    public async Task RefusingPhonesFailAtOnceWithTheirCause(string number, string cause)
    {
        var (c, u, r) = await Originate(number);
        await using var _ = c;
        Assert.That(r, Is.EqualTo($"-ERR {cause}\n"));
        var names = c.Events.Where(e => e.UniqueId == u).Select(e => e.EventName).ToList();
        Assert.That(names, Does.Not.Contain("CHANNEL_PROGRESS").And.Not.Contain("CHANNEL_ANSWER"));
        var hangup = (EslEvent)await c.WaitForEventAsync("CHANNEL_HANGUP_COMPLETE", u);
        Assert.That(hangup["Hangup-Cause"], Is.EqualTo(cause));
    }

    [Test]
    public async Task Phone408RingsThenNoAnswerAfterTheRingTimeout()
    {
        var started = DateTime.UtcNow;
        var (c, u, r) = await Originate("15550000408");
        await using var _ = c;
        Assert.That(r, Is.EqualTo("-ERR NO_ANSWER\n"));
        Assert.That(DateTime.UtcNow - started, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)));
        Assert.That(c.Events.Any(e => e.UniqueId == u && e.EventName == "CHANNEL_PROGRESS"), Is.True);
    }

    [Test]
    public async Task Phone480AnswersThenHangsUpWithNormalClearing()
    {
        var (c, u, r) = await Originate("15550000480");
        await using var _ = c;
        Assert.That(r, Is.EqualTo($"+OK {u}\n"));
        var h = (EslEvent)await c.WaitForEventAsync("CHANNEL_HANGUP", u);
        Assert.That(h["Hangup-Cause"], Is.EqualTo("NORMAL_CLEARING"));
    }

    [Test]
    public async Task OrdinaryPhoneRingsAnswersAndStaysUp()
    {
        var (c, u, r) = await Originate("15550000100");
        await using var _ = c;
        Assert.That(r, Is.EqualTo($"+OK {u}\n"));
        var names = c.Events.Where(e => e.UniqueId == u).Select(e => e.EventName).ToList();
        Assert.That(names.Where(n => n is "CHANNEL_CREATE" or "CHANNEL_PROGRESS" or "CHANNEL_ANSWER"),
            Is.EqualTo(new[] { "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER" }));
        Assert.That(names.Take(2), Is.EqualTo(new[] { "CHANNEL_OUTGOING", "CHANNEL_CREATE" }));
        await Task.Delay(400);
        Assert.That(await c.ApiAsync($"uuid_exists {u}"), Is.EqualTo("true"));
    }

    [Test]
    public async Task OriginateTimeoutVariableEndsALongRingWithNoAnswer()
    {
        Sim.SetBehaviour("15550001111", PhoneBehaviour.NoAnswer(null));
        var started = DateTime.UtcNow;
        var (c, _, r) = await Originate("15550001111", ",originate_timeout=1");
        await using var __ = c;
        Assert.That(r, Is.EqualTo("-ERR NO_ANSWER\n"));
        Assert.That(DateTime.UtcNow - started, Is.InRange(TimeSpan.FromMilliseconds(900), TimeSpan.FromSeconds(3)));
    }

    [Test]
    public async Task LegTimeoutVariableEndsALongRingWithNoAnswer()
    {
        Sim.SetBehaviour("15550001112", PhoneBehaviour.AnswerAfterDelay(TimeSpan.FromSeconds(10)));
        var (c, _, r) = await Originate("15550001112", ",leg_timeout=1");
        await using var __ = c;
        Assert.That(r, Is.EqualTo("-ERR NO_ANSWER\n"));
    }

    [Test]
    public async Task PerNumberOverrideWinsOverTheLastDigits()
    {
        Sim.SetBehaviour("15550000100", PhoneBehaviour.Busy);
        var (c, _, r) = await Originate("15550000100");
        await using var __ = c;
        Assert.That(r, Is.EqualTo("-ERR USER_BUSY\n"));
        Sim.ClearBehaviour("15550000100");
        Assert.That(Sim.BehaviourFor("15550000100").AnswerAfter, Is.EqualTo(TimeSpan.FromMilliseconds(100)));
    }

    [Test]
    public async Task UuidKillWhileRingingCancelsTheOriginate()
    {
        Sim.SetBehaviour("15550001113", PhoneBehaviour.NoAnswer(null));
        await using var c = await ConnectAsync();
        await c.CommandAsync("event plain BACKGROUND_JOB CHANNEL_PROGRESS");
        var u = NewUuid();
        var reply = await c.CommandAsync($"bgapi originate {{origination_uuid={u}}}sofia/gateway/gw/15550001113 &park()");
        await c.WaitForEventAsync("CHANNEL_PROGRESS", u);
        Assert.That(await c.ApiAsync($"uuid_kill {u} ORIGINATOR_CANCEL"), Is.EqualTo("+OK\n"));
        var job = (EslEvent)await c.WaitForAsync(m => m is EslEvent e && e.JobUuid == reply.JobUuid);
        Assert.That(job.EventBodyText, Is.EqualTo("-ERR ORIGINATOR_CANCEL\n"));
    }
}
