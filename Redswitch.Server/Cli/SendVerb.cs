using System.CommandLine;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;
using Redswitch.Calls.Jobs;

namespace Redswitch.Server.Cli;

/// <summary><c>send &lt;dial_id&gt; &lt;type&gt;</c>: one control message (SPEC §5) with an <c>id</c>, and its ack or failure.</summary>
internal static class SendVerb
{
    private static readonly string[] Types = ["hangup", "barge", "whisper", "mute", "threeway", "unthreeway"];

    public static Command Build()
    {
        var dialId = new Argument<string>("dial_id") { Description = "The call's dial_id." };
        var type = new Argument<string>("type") { Description = "hangup, barge, whisper, mute, threeway or unthreeway." };
        type.AcceptOnlyFromAmong(Types);
        var phone = new Option<string?>("--phone-number") { Description = "barge: the barger's phone (side 2)." };
        var callerId = new Option<string?>("--caller-id") { Description = "barge: what the barger's phone shows." };
        var id = new Option<string?>("--id") { Description = "The message's id, echoed in its reply (default: a fresh one)." };
        var seconds = new Option<double>("--seconds") { Description = "How long to wait for the ack or failure (SPEC §8.1: resend after 10 s).", DefaultValueFactory = _ => 10 };
        var cmd = new Command("send", "Publish a control message on a call's channel and wait for its ack or failure (exit 0 on ack, 1 otherwise).")
        {
            dialId, type, phone, callerId, id, seconds,
        };
        cmd.SetAction((r, ct) => Cli.Run("send", ct, async token =>
        {
            var channel = Cli.DialId(r.GetValue(dialId));
            var kind = r.GetValue(type)!;
            var messageId = r.GetValue(id) ?? "cli-" + Guid.NewGuid().ToString("N")[..12];
            var limit = r.GetValue(seconds);
            if (limit <= 0) throw new CliException("--seconds must be positive", CliExit.Usage);
            string? number = r.GetValue(phone), shown = r.GetValue(callerId);
            if (kind == "barge")
            {
                if (!FieldRules.IsPhoneNumber(number)) throw new CliException("barge needs --phone-number: a phone number or SIP URI", CliExit.Usage);
                if (!FieldRules.IsCallerId(shown)) throw new CliException("barge needs --caller-id: what the barger's phone shows", CliExit.Usage);
            }
            else if (number is not null || shown is not null)
                throw new CliException("--phone-number and --caller-id go with barge only", CliExit.Usage);
            var message = Message(kind, messageId, number, shown);

            var env = CliEnvironment.Load();
            await using var redis = await env.ConnectRedisAsync();
            var queue = await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(channel));
            await redis.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), message);
            CliOutput.Message(message);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(token);
            stop.CancelAfter(TimeSpan.FromSeconds(limit));
            try
            {
                while (true)
                {
                    var m = ChannelMessage.Parse((await queue.ReadAsync(stop.Token)).Message.ToString());
                    if (!m.IsReply || m.Id != messageId) continue;
                    CliOutput.Message(m.Raw);
                    return m.Type == "ack" ? CliExit.Ok : throw new CliException($"{channel}: {kind} refused: {m.Cause}");
                }
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                throw new CliException($"{channel}: no ack or failure within {limit} s: no instance owns this call " +
                    "(never existed, ended more than 60 s ago, or changing hands: resend)");
            }
        }));
        return cmd;
    }

    private static string Message(string type, string id, string? phone, string? callerId)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteString("id", id);
            if (phone is not null) w.WriteString("phone_number", phone);
            if (callerId is not null) w.WriteString("caller_id", callerId);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
