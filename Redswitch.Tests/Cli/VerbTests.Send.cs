using Redswitch.Tests.Infrastructure;
using static Redswitch.Tests.Server.Jobs;

namespace Redswitch.Tests.Cli;

public partial class VerbTests
{
    [Test]
    public async Task SendWaitsForTheAckOrTheFailureOfItsOwnMessage()
    {
        var dialId = await LiveCallAsync();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);

        var whisper = await RunAsync(Env(), "send", dialId, "whisper", "--id", "w-1");
        AssertOneClearLine(whisper, 1, $"{dialId}: whisper refused: no barge leg");
        Assert.That(Messages(whisper.Out), Is.EqualTo(new[]
        {
            """{"type":"whisper","id":"w-1"}""",
            """{"type": "failure", "event": "whisper", "cause": "no barge leg", "id": "w-1"}""",
        }), whisper.ToString());

        var barge = await RunAsync(Env(), "send", dialId, "barge", "--phone-number", "15105550100", "--caller-id", "777-777-7777");
        Assert.That(barge.Code, Is.Zero, barge.ToString());
        var sent = Messages(barge.Out);
        Assert.That(sent[0], Does.Match("""^\{"type":"barge","id":"cli-[0-9a-f]{12}","phone_number":"15105550100","caller_id":"777-777-7777"\}$"""));
        Assert.That(sent[1], Does.StartWith("""{"type": "ack", "event": "barge", "id": "cli-"""));
        await watch.CollectAsync(m => m == Answer(2), 1, 10);

        var hangup = await RunAsync(Env(), "send", dialId, "hangup");
        Assert.That(hangup.Code, Is.Zero, hangup.ToString());
        var ends = (await watch.CollectAsync(IsHangup, 3, 10)).Where(IsHangup);
        Assert.That(ends, Is.EquivalentTo(new[] { Hangup(0, "NORMAL_CLEARING"), Hangup(1, "NORMAL_CLEARING"), Hangup(2, "NORMAL_CLEARING") }));
    }

    [Test]
    public async Task SendToACallNobodyOwnsGivesUpAfterItsTime()
    {
        var r = await RunAsync(Env(), "send", NewDialId(), "hangup", "--seconds", "1");
        AssertOneClearLine(r, 1, "no ack or failure within 1 s");
    }

    [Test]
    public async Task SendStoppedBeforeItsReplyIsNoSuccess()
    {
        var dialId = NewDialId();
        await using var p = new ServerProcess(Env(), "send", dialId, "hangup", "--seconds", "60");
        await Waits.UntilAsync(() => p.Out.Any(l => l.Contains("\"type\":\"hangup\"")) || p.HasExited, 30, "sent");
        p.Terminate();
        Assert.That(await p.ExitAsync(10), Is.EqualTo(1), p.Dump());
        Assert.That(p.Err.ToArray(), Is.EqualTo(new[] { "redswitch send: interrupted before it finished" }), p.Dump());
    }

    [Test]
    public async Task SendRefusesAnIncompleteBargeAndPublishesNothing()
    {
        var dialId = NewDialId();
        await using var watch = await ChannelWatcher.StartAsync(_redis.Client, dialId);
        AssertOneClearLine(await RunAsync(Env(), "send", dialId, "barge", "--caller-id", "777"), 2, "--phone-number");
        AssertOneClearLine(await RunAsync(Env(), "send", dialId, "mute", "--phone-number", "15105550100"), 2, "barge only");
        // Published after both: had either verb published, its message would come first.
        await _redis.Db.PublishAsync(StackExchange.Redis.RedisChannel.Literal(dialId), "after");
        Assert.That(await watch.NextAsync(), Is.EqualTo("after"));
    }
}
