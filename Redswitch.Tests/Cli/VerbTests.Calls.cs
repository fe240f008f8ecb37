using System.Text.Json;
using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    [Test]
    public async Task CallsListsLiveCallsWithOwnerNodeSidesAndAge()
    {
        var a = await LiveCallAsync(org: "org-calls-a");
        var b = await LiveCallAsync(org: "org-calls-b");

        var table = await RunAsync(Env(), "calls");
        Assert.That(table.Code, Is.Zero, table.ToString());
        Assert.That(table.Out[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "DIAL_ID", "OWNER", "NODE", "SIDES_UP", "AGE", "ORG", "USER" }));
        var rowA = table.Out.Single(l => l.StartsWith(a, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(rowA[1..4], Is.EqualTo(new[] { "cli-owner", $"127.0.0.1:{_sim.Port}", "0,1" }), table.ToString());
        Assert.That(rowA[4], Does.Match("^[0-9]+s$"));
        Assert.That(rowA[5..], Is.EqualTo(new[] { "org-calls-a", User }));

        var onlyB = await RunAsync(Env(), "calls", "--org", "org-calls-b", "--json");
        Assert.That(onlyB.Code, Is.Zero, onlyB.ToString());
        Assert.That(onlyB.Out, Has.Length.EqualTo(1), onlyB.ToString());
        using (var doc = JsonDocument.Parse(onlyB.Out[0]))
        {
            Assert.That(doc.RootElement.GetProperty("dial_id").GetString(), Is.EqualTo(b));
            Assert.That(doc.RootElement.GetProperty("sides_up").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "0", "1" }));
        }

        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, a);
        await watch.SendAsync("{\"type\": \"hangup\"}");
        await watch.CollectAsync(IsHangup, 2, 10);
        await Waits.UntilAsync(async () => (await _redis.Db.HashGetAsync($"redswitch.call.{{{a}}}", "ended_at")).HasValue, 10, "the call's end recorded");
        var after = await RunAsync(Env(), "calls", "--org", "org-calls-a");
        Assert.That(after.Out, Is.EqualTo(new[] { "no live calls" }), after.ToString());
        var all = await RunAsync(Env(), "calls", "--org", "org-calls-a", "--all");
        Assert.That(all.Out.Single(l => l.StartsWith(a, StringComparison.Ordinal)), Does.Contain(" ended "), all.ToString());

        await using var watchB = await ChannelWatcher.StartAsync(_redis.Client, b);
        await watchB.SendAsync("{\"type\": \"hangup\"}");
        await watchB.CollectAsync(IsHangup, 2, 10);
    }
}
