using Redswitch.Tests.Infrastructure;
using StackExchange.Redis;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    private const string Dead = "{talkiq-asp.calls}.dead";

    /// <summary>A job list no instance takes from: what a verb pushes there stays there to be seen.</summary>
    private (Dictionary<string, string> Env, string Jobs, string Dead) IdleList()
    {
        var list = "idle-" + Guid.NewGuid().ToString("N")[..8];
        return (Env(new() { ["JOB_LIST"] = list }), list, $"{{{list}}}.dead");
    }

    private static string Wrapped(string job, string cause) =>
        System.Text.Json.JsonSerializer.Serialize(new { job, cause, at = 1_700_000_000 });

    [Test]
    public async Task DeadRequeueClearsTheMarkOnlyWhenToldAndNeverWhileTheCallsHashExists()
    {
        var (env, jobs, dead) = IdleList();
        var db = _redis.Db;
        var dialId = NewDialId();
        var mark = $"redswitch.dialled.{dialId}";
        var entry = Wrapped(Call(dialId), "already dialled");
        await db.StringSetAsync(mark, "cli-owner", TimeSpan.FromHours(1));
        await db.ListRightPushAsync(dead, [Wrapped("not json", "invalid json"), entry]);

        var list = await RunAsync(env, "dead", "list");
        Assert.That(list.Code, Is.Zero, list.ToString());
        Assert.That(list.Out, Is.EqualTo(new[]
        {
            $"{dead}: 2 job(s)",
            "0  2023-11-14T22:13:20Z  invalid json  -  not json",
            $"1  2023-11-14T22:13:20Z  already dialled  {dialId}  {Call(dialId)}",
        }), list.ToString());

        async Task Unchanged(string why)
        {
            Assert.That((await db.ListRangeAsync(dead)).Select(v => v.ToString()), Is.EqualTo(new[] { Wrapped("not json", "invalid json"), entry }), why);
            Assert.That(await db.ListLengthAsync(jobs), Is.Zero, why);
            Assert.That((string?)await db.StringGetAsync(mark), Is.EqualTo("cli-owner"), why);
        }

        AssertOneClearLine(await RunAsync(env, "dead", "requeue", "1"), 1, "--clear-dialled");
        await Unchanged("no flag: nothing moves");
        AssertOneClearLine(await RunAsync(env, "dead", "requeue", "0"), 1, "invalid json");
        await Unchanged("a job the service refuses is not requeued");

        // A call of that dial_id being resumed somewhere: its state hash exists.
        await db.HashSetAsync($"redswitch.call.{{{dialId}}}", "owner", "someone-else");
        AssertOneClearLine(await RunAsync(env, "dead", "requeue", dialId, "--clear-dialled"), 1, "live call");
        await Unchanged("never while the hash exists, flag or not");
        await db.KeyDeleteAsync($"redswitch.call.{{{dialId}}}");

        var requeued = await RunAsync(env, "dead", "requeue", dialId, "--clear-dialled");
        Assert.That(requeued.Code, Is.Zero, requeued.ToString());
        Assert.That(requeued.Out, Is.EqualTo(new[] { $"requeued {dialId} to {jobs} (1 waiting)" }));
        Assert.That((await db.ListRangeAsync(jobs)).Select(v => v.ToString()), Is.EqualTo(new[] { Call(dialId) }));
        Assert.That((await db.ListRangeAsync(dead)).Select(v => v.ToString()), Is.EqualTo(new[] { Wrapped("not json", "invalid json") }));
        Assert.That(await db.KeyExistsAsync(mark), Is.False);

        var dropped = await RunAsync(env, "dead", "drop", "0");
        Assert.That(dropped.Code, Is.Zero, dropped.ToString());
        Assert.That(await db.ListLengthAsync(dead), Is.Zero);
        AssertOneClearLine(await RunAsync(env, "dead", "drop", "0"), 1, "has no entry 0");
        AssertOneClearLine(await RunAsync(env, "dead", "requeue", dialId), 1, $"holds no job of {dialId}");
    }

    [Test]
    public async Task DeadByDialIdRefusesWhenSeveralEntriesHaveIt()
    {
        var (env, _, dead) = IdleList();
        var dialId = NewDialId();
        await _redis.Db.ListRightPushAsync(dead, [Wrapped(Call(dialId), "freeswitch link lost"), Wrapped(Call(dialId), "already dialled")]);
        AssertOneClearLine(await RunAsync(env, "dead", "drop", dialId), 1, "holds 2 jobs of");
        Assert.That(await _redis.Db.ListLengthAsync(dead), Is.EqualTo(2));
    }

    [Test]
    public async Task DeadRequeueWithClearDialledDialsTheJobAgain()
    {
        // dead-lettered by the instance itself: its mark was set (by hand here) before the job came
        var dialId = NewDialId();
        await _redis.Db.StringSetAsync($"redswitch.dialled.{dialId}", "1", TimeSpan.FromHours(1));
        await PushAsync(_redis, Call(dialId));
        await Waits.UntilAsync(async () => (await _redis.Db.ListRangeAsync(Dead)).Any(e => e.ToString().Contains(dialId)), 10, "the job dead-lettered");

        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        var requeued = await RunAsync(Env(), "dead", "requeue", dialId, "--clear-dialled");
        Assert.That(requeued.Code, Is.Zero, requeued.ToString());
        Assert.That(await watch.NextAsync(10), Is.EqualTo(Start(dialId)), "dialled this time");
        Assert.That((await _redis.Db.ListRangeAsync(Dead)).Select(e => e.ToString()), Has.None.Contains(dialId));
        await watch.SendAsync("{\"type\": \"hangup\"}");
        await watch.CollectAsync(IsHangup, 1, 10);
    }
}
