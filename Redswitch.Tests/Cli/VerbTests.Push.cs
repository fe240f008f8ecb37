using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    [Test]
    public async Task PushWatchPlacesACallWithAFreshDialIdAndFollowsItToItsEnd()
    {
        // ...480: the simulated callee answers, then hangs up after a second
        var r = await RunAsync(Env(), "push", "--caller", "15105625882", "--callee", "14155550480", "--org", "acme", "--watch", "--seconds", "30");
        Assert.That(r.Code, Is.Zero, r.ToString());
        var pushed = System.Text.RegularExpressions.Regex.Match(r.Out[0], "^pushed (cli-[0-9a-f]{20}) to talkiq-asp.calls \\([0-9]+ waiting\\)$");
        Assert.That(pushed.Success, Is.True, r.ToString());
        var dialId = pushed.Groups[1].Value;
        Assert.That(Messages(r.Out), Is.EqualTo(new[]
        {
            Start(dialId), Answer(0), Answer(1), Hangup(1, "NORMAL_CLEARING"), Hangup(0, "NORMAL_CLEARING"),
        }), r.ToString());
        var history = await _redis.Db.ListRangeAsync("redswitch_history.acme.cli");
        Assert.That(history.Select(h => h.ToString()), Has.Some.Contains("call-start"), "the job carried --org and the default user");

        var again = await RunAsync(Env(), "push", "--caller", "15105625882", "--callee", "14155550480", "--dial-id", dialId);
        AssertOneClearLine(again, 1, $"{dialId} was dialled already");
    }

    [Test]
    public async Task PushRefusesWhatTheServiceWouldRefuseAndPushesNothing()
    {
        var (env, jobs, _) = IdleList();
        AssertOneClearLine(await RunAsync(env, "push", "--caller", "15105625882", "--callee", "not-a-number"), 2, "invalid callee_number");
        AssertOneClearLine(await RunAsync(env, "push", "--callee", "14155550100"), 2, "--caller");
        AssertOneClearLine(await RunAsync(env, "push", "--caller", "1", "--callee", "2", "--dial-id", "has space"), 2, "invalid dial_id");
        // a SIP URI is a callee, not something a phone can show: the caller id is asked for
        AssertOneClearLine(await RunAsync(env, "push", "--caller", "15105625882", "--callee", "alice@pbx.example.com"), 2, "--caller-id-a");
        Assert.That(await _redis.Db.ListLengthAsync(jobs), Is.Zero);

        var sip = await RunAsync(env, "push", "--caller", "15105625882", "--callee", "alice@pbx.example.com", "--caller-id-a", "15105625882");
        Assert.That(sip.Code, Is.Zero, sip.ToString());
        Assert.That(await _redis.Db.ListLengthAsync(jobs), Is.EqualTo(1), "pushed as it was, nobody takes it here");
    }

    [Test]
    public async Task PushWatchEndsWhenTheJobIsDeadLetteredWithoutAWord()
    {
        // What a dispatcher does with a job whose dial_id was dialled meanwhile: into the dead letters, nothing published.
        var (env, jobs, dead) = IdleList();
        await using var p = new ServerProcess(env, "push", "--caller", "15105625882", "--callee", "14155550100", "--watch", "--seconds", "30");
        await Waits.UntilAsync(() => p.Out.Any(l => l.StartsWith("pushed ", StringComparison.Ordinal)) || p.HasExited, 30, "pushed");
        var job = (string?)await _redis.Db.ListLeftPopAsync(jobs);
        Assert.That(job, Is.Not.Null, p.Dump());
        await _redis.Db.ListRightPushAsync(dead, Wrapped(job!, "already dialled"));
        Assert.That(await p.ExitAsync(20), Is.EqualTo(1), p.Dump());
        Assert.That(p.Err.ToArray(), Has.Length.EqualTo(1).And.Some.EndsWith("the job was dead-lettered: already dialled"), p.Dump());
    }

    [Test]
    public async Task PushWithRedisDownSaysSoInOneLine()
    {
        var r = await RunAsync(Env(new() { ["PUBSUB_REDIS_URL"] = $"redis://127.0.0.1:{FreePort.Get()}", ["PUBSUB_REDIS_TIMEOUT"] = "2" }),
            "push", "--caller", "15105625882", "--callee", "14155550100");
        AssertOneClearLine(r, 1, "cannot connect to Redis");
        Assert.That(r.Err[0], Does.Contain("connection refused").And.Not.Contain("abortConnect"));
    }
}
