using System.Collections.Concurrent;
using System.Threading.Channels;
using StackExchange.Redis;

namespace Redswitch.Tests.Infrastructure;

/// <summary>Subscribes to a dial_id channel and records every message, in order.</summary>
public sealed class ChannelWatcher : IAsyncDisposable
{
    private readonly ChannelMessageQueue _queue;
    private readonly Channel<string> _messages = Channel.CreateUnbounded<string>();
    private readonly ConcurrentQueue<string> _all = new();
    private readonly ConcurrentDictionary<string, int> _mine = new();
    private readonly IConnectionMultiplexer _redis;
    private readonly string _channel;

    private ChannelWatcher(IConnectionMultiplexer redis, string channel, ChannelMessageQueue queue)
    {
        _redis = redis;
        _channel = channel;
        _queue = queue;
        _queue.OnMessage(m =>
        {
            var s = (string)m.Message!;
            // what the test itself published comes back too: skip it (once per send)
            var skip = false;
            _mine.AddOrUpdate(s, 0, (_, n) => { skip = n > 0; return n > 0 ? n - 1 : 0; });
            if (skip) return;
            _all.Enqueue(s);
            _messages.Writer.TryWrite(s);
        });
    }

    public static async Task<ChannelWatcher> StartAsync(IConnectionMultiplexer redis, string channel) =>
        new(redis, channel, await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(channel)));

    /// <summary>Publishes a message on the watched channel; its echo is not recorded.</summary>
    public async Task SendAsync(string message)
    {
        _mine.AddOrUpdate(message, 1, (_, n) => n + 1);
        await _redis.GetDatabase().PublishAsync(RedisChannel.Literal(_channel), message);
    }

    public IReadOnlyList<string> All => _all.ToArray();

    public async Task<string> NextAsync(double seconds = 5)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try { return await _messages.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            Assert.Fail($"no message within {seconds} s; so far: {string.Join(" | ", _all)}");
            throw;
        }
    }

    /// <summary>Reads messages until <paramref name="count"/> of them match the predicate (or time runs out); returns everything read.</summary>
    public async Task<List<string>> CollectAsync(Func<string, bool> match, int count, double seconds = 5)
    {
        var got = new List<string>();
        var matched = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (matched < count)
        {
            string m;
            try { m = await _messages.Reader.ReadAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                Assert.Fail($"only {matched} of {count} expected messages within {seconds} s; read: {string.Join(" | ", got)}");
                throw;
            }
            got.Add(m);
            if (match(m)) matched++;
        }
        return got;
    }

    /// <summary>Asserts that nothing more arrives within the given time.</summary>
    public async Task ExpectQuietAsync(double seconds)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            var m = await _messages.Reader.ReadAsync(cts.Token);
            Assert.Fail($"unexpected message: {m}");
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync() => await _queue.UnsubscribeAsync();
}
