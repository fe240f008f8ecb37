using StackExchange.Redis;
using Redswitch.Server.Redis;

namespace Redswitch.Tests.Server;

/// <summary>The instance's registration in {redswitch}.instances (SPEC §8.1 "Instances").</summary>
public class InstanceLeaseTests : RedisAndSimulatorTests
{
    private async Task<long> RedisNowMsAsync()
    {
        var t = (RedisResult[])(await _redis.Db.ExecuteAsync("TIME"))!;
        return (long)t[0] * 1000 + (long)t[1] / 1000;
    }

    [Test]
    public async Task ARunningInstanceRenewsItsLeaseEverySecondAndLeavesWhenItStops()
    {
        var server = await StartServerAsync(new() { ["INSTANCE_LEASE"] = "4" });
        var id = server.Service.InstanceId!;
        var first = await _redis.Db.SortedSetScoreAsync(RedisKeys.Instances, id);
        var now = await RedisNowMsAsync();
        Assert.That(first, Is.Not.Null, "registered before ready");
        Assert.That(first!.Value, Is.InRange(now + 2000, now + 4000), "score: lease expiry by Redis's clock");

        await WaitAsync(() => _redis.Db.SortedSetScore(RedisKeys.Instances, id) > first.Value + 500, 5, "a renewal");
        var renewed = await _redis.Db.SortedSetScoreAsync(RedisKeys.Instances, id);
        Assert.That(renewed!.Value, Is.InRange(await RedisNowMsAsync() + 2000, await RedisNowMsAsync() + 4000));

        await server.StopAsync();
        Assert.That(await _redis.Db.SortedSetScoreAsync(RedisKeys.Instances, id), Is.Null, "a stopped instance is not live");
    }
}
