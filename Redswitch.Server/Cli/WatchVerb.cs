using System.CommandLine;
using StackExchange.Redis;

namespace Redswitch.Server.Cli;

/// <summary><c>watch &lt;dial_id&gt;</c>: a call's channel live, one message per line with a timestamp (SPEC §10).</summary>
internal static class WatchVerb
{
    public static Command Build()
    {
        var dialId = new Argument<string>("dial_id") { Description = "The call's dial_id: its Redis channel." };
        var seconds = new Option<double>("--seconds") { Description = "Stop after this many seconds (default: until Ctrl-C).", DefaultValueFactory = _ => 0 };
        var cmd = new Command("watch", "Print the messages of a call's channel as they are published, one per line, with a timestamp.") { dialId, seconds };
        cmd.SetAction((r, ct) => Cli.Run("watch", ct, async token =>
        {
            var id = Cli.DialId(r.GetValue(dialId));
            var limit = r.GetValue(seconds);
            if (limit < 0) throw new CliException("--seconds must not be negative", CliExit.Usage);
            var env = CliEnvironment.Load();
            await using var redis = await env.ConnectRedisAsync();
            var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(id));
            CliOutput.Note($"watching {id} on {env.RedisName} (Ctrl-C stops)");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
            if (limit > 0) stop.CancelAfter(TimeSpan.FromSeconds(limit));
            try
            {
                while (true)
                {
                    var m = await queue.ReadAsync(stop.Token);
                    CliOutput.Message(m.Message.ToString());
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return CliExit.Ok;
            }
        }, stopIsDone: true));
        return cmd;
    }
}
