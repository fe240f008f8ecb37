using Redswitch.Simulator;
using Redswitch.Tests.Infrastructure;

namespace Redswitch.Tests.Simulator;

/// <summary>
/// The simulator stalled as a SIGSTOPped FreeSWITCH: nothing answers meanwhile, what was received runs afterwards (even
/// on a connection its client closed), and after a stall of more than a few seconds the uptime leaves the stall out
/// while the Core-UUID stays ("Virtual Migration Detected! Syncing Clock"). Also <c>api uptime</c> as mod_commands answers it.
/// </summary>
[TestFixture, CancelAfter(30000)]
public class StallTests : SimTestBase
{
    [Test]
    public async Task UptimeAnswersAsModCommandsDoes()
    {
        await using var c = await ConnectAsync();
        Assert.That(await c.ApiAsync("uptime"), Does.Match(@"^\d+\n$"));
        Assert.That(await c.ApiAsync("uptime MS"), Does.Match(@"^\d+\n$"));
        Assert.That(await c.ApiAsync("uptime fortnights"), Does.StartWith("-USAGE: [us|ms|s|m|h|d|"));
    }

    [Test]
    public async Task WhatArrivesDuringAStallRunsAfterItAndTheUptimeLeavesTheStallOutWithTheSameCoreUuid()
    {
        await using var c = await ConnectAsync();
        var core = await c.ApiAsync("global_getvar core_uuid");
        var before = long.Parse((await c.ApiAsync("uptime ms")).Trim());
        await using var closing = await ConnectAsync();
        var uuid = NewUuid();

        Sim.Stall();
        var pending = c.ApiAsync("uptime ms", TimeSpan.FromSeconds(15));
        // a command sent by a client that hangs up before the node wakes still runs
        await closing.SendRawAsync($"bgapi originate {{origination_uuid={uuid}}}user/15550000100 &park()\n\n");
        await closing.DisposeAsync();
        var early = await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(4.5)));
        Assert.That(early, Is.Not.SameAs(pending), "no answer while stalled");
        Sim.Unstall();

        await pending; // answered once it runs again
        // (the clock is checked every second: the first command after the stall may still see the old uptime)
        long after = -1;
        await Waits.UntilAsync(async () => (after = long.Parse((await c.ApiAsync("uptime ms")).Trim())) < before + 2500, 3,
            $"the uptime leaves a 4.5 s stall out ({before} ms before, {after} ms after)");
        Assert.That(await c.ApiAsync("global_getvar core_uuid"), Is.EqualTo(core), "the Core-UUID stays");
        await Waits.UntilAsync(() => Sim.ChannelExistsAsync(uuid), 5, "the originate received during the stall ran");
    }
}
