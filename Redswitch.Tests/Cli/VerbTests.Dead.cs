using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    private const string Dead = "{talkiq-asp.calls}.dead";

    /// <summary>A job the instance dead-letters as already dialled (its mark set by hand), and its index in the list.</summary>
    private async Task<(string DialId, long Index)> DeadLetteredAsync()
    {
        var dialId = NewDialId();
        await _redis.Db.StringSetAsync($"redswitch.dialled.{dialId}", "1", TimeSpan.FromHours(1));
        await PushAsync(_redis, Call(dialId));
        long index = -1;
        await Waits.UntilAsync(async () =>
        {
            var all = await _redis.Db.ListRangeAsync(Dead);
            index = Array.FindIndex(all, e => e.ToString().Contains(dialId));
            return index >= 0;
        }, 10, "the job dead-lettered");
        return (dialId, index);
    }

    [Test]
    public async Task DeadListsRequeuesOnlyWithAnExplicitFlagAndDrops()
    {
        var (dialId, index) = await DeadLetteredAsync();
        var list = await RunAsync(Env(), "dead", "list", "--limit", "0");
        Assert.That(list.Code, Is.Zero, list.ToString());
        Assert.That(list.Out, Has.One.Match($"^{index}  \\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  already dialled  {dialId}  \\{{"), list.ToString());

        var refused = await RunAsync(Env(), "dead", "requeue", index.ToString());
        AssertOneClearLine(refused, 1, "--clear-dialled");
        Assert.That(await _redis.Db.KeyExistsAsync($"redswitch.dialled.{dialId}"), Is.True, "the mark stays");
        Assert.That((await _redis.Db.ListRangeAsync(Dead)).Select(e => e.ToString()), Has.One.Contains(dialId), "the entry stays");

        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        var requeued = await RunAsync(Env(), "dead", "requeue", index.ToString(), "--clear-dialled");
        Assert.That(requeued.Code, Is.Zero, requeued.ToString());
        Assert.That(requeued.Out, Has.One.StartWith($"requeued {dialId} to talkiq-asp.calls"), requeued.ToString());
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Start(dialId)), "dialled this time");
        Assert.That((await _redis.Db.ListRangeAsync(Dead)).Select(e => e.ToString()), Has.None.Contains(dialId), "gone from the dead letters");
        await watch.SendAsync("{\"type\": \"hangup\"}");
        await watch.CollectAsync(IsHangup, 1, 10);

        var (other, otherIndex) = await DeadLetteredAsync();
        var dropped = await RunAsync(Env(), "dead", "drop", otherIndex.ToString());
        Assert.That(dropped.Code, Is.Zero, dropped.ToString());
        Assert.That((await _redis.Db.ListRangeAsync(Dead)).Select(e => e.ToString()), Has.None.Contains(other));
        AssertOneClearLine(await RunAsync(Env(), "dead", "drop", "100000"), 1, "has no entry 100000");
    }

    [Test]
    public async Task DeadRequeueNeverClearsTheMarkWhileTheCallsStateHashExists()
    {
        var (dialId, index) = await DeadLetteredAsync();
        // A call of that dial_id being resumed somewhere: its state hash exists.
        await _redis.Db.HashSetAsync($"redswitch.call.{{{dialId}}}", "owner", "someone-else");
        var r = await RunAsync(Env(), "dead", "requeue", index.ToString(), "--clear-dialled");
        AssertOneClearLine(r, 1, "live call");
        Assert.That(await _redis.Db.KeyExistsAsync($"redswitch.dialled.{dialId}"), Is.True, "the mark stays");
        Assert.That((await _redis.Db.ListRangeAsync(JobList)).Select(e => e.ToString()), Has.None.Contains(dialId), "nothing queued");
        await _redis.Db.KeyDeleteAsync($"redswitch.call.{{{dialId}}}");
    }

    [Test]
    public async Task DeadRequeueRefusesAJobTheServiceWouldRefuseAgain()
    {
        await _redis.Db.ListRightPushAsync(Dead, "{\"job\": \"not json\", \"cause\": \"invalid json\", \"at\": 1}");
        var index = await _redis.Db.ListLengthAsync(Dead) - 1;
        AssertOneClearLine(await RunAsync(Env(), "dead", "requeue", index.ToString()), 1, "invalid json");
        Assert.That((await _redis.Db.ListRangeAsync(JobList)).Select(e => e.ToString()), Has.None.EqualTo("not json"));
    }
}
