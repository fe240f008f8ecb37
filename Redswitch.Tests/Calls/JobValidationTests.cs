using Redswitch.Calls.FreeSwitch;
using Redswitch.Calls.Jobs;
using Redswitch.Server.Calls;
using Redswitch.Server.Configuration;

namespace Redswitch.Tests.Calls;

public class JobValidationTests
{
    public const string Valid = """
        {
          "type": "asp-call",
          "call_provider": "talk_call_provider",
          "callee_number": "1415697098",
          "caller_id_lega": "15105625882",
          "caller_id_legb": "14157697098",
          "caller_number": "15105625882",
          "dial_id": "talkiq_dial_id",
          "org_id": "talkiq_org_id",
          "user_id": "talkiq_user_id",
        }
        """;

    [Test]
    public void SpecExampleWithTrailingCommaParses()
    {
        var r = JobParser.Parse(Valid);
        Assert.That(r.Cause, Is.Null);
        Assert.That(r.Job, Is.EqualTo(new CallJob("talkiq_dial_id", "talkiq_org_id", "talkiq_user_id", "talk_call_provider",
            "15105625882", "1415697098", "15105625882", "14157697098", null)));
    }

    [TestCase("not json", "invalid json", false)]
    [TestCase("[1,2]", "invalid json", false)]
    [TestCase("\"asp-call\"", "invalid json", false)]
    [TestCase("{\"type\": \"asp-call\", \"dial_id\": \"d1\"} trailing", "invalid json", false)]
    [TestCase("{\"type\": \"asp-call\", \"dial_id\": \"d1\"", "invalid json", false)]
    [TestCase("{\"type\": \"asp-call\", \"x\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", "invalid json", false)]
    [TestCase("{\"type\": \"asp-call\", /* c */ \"dial_id\": \"d1\"}", "invalid json", false)]
    [TestCase("{\"type\": \"\\ud800\", \"dial_id\": \"d1\"}", "invalid json", false)]
    [TestCase("{\"type\": \"asp-call\", \"dial_id\": \"\\udc00\"}", "invalid json", false)]
    [TestCase("{\"t\\ud800\": 1, \"type\": \"asp-call\"}", "invalid json", false)]
    [TestCase("{\"dial_id\": \"d1\"}", "missing type", true)]
    [TestCase("{\"type\": {\"asp-call\": 1}, \"dial_id\": \"d1\"}", "unknown type", true)]
    [TestCase("{\"type\": \"asp-call\", \"dial_id\": {\"a\": \"d1\"}}", "invalid dial_id", false)]
    [TestCase("{\"type\": \"other\", \"dial_id\": \"d1\"}", "unknown type", true)]
    public void UnusableJobs(string raw, string cause, bool hasDialId)
    {
        var r = JobParser.Parse(raw);
        Assert.That(r.Job, Is.Null);
        Assert.That(r.Cause, Is.EqualTo(cause));
        Assert.That(r.DialId is not null, Is.EqualTo(hasDialId));
    }

    [Test]
    public void ALaterCopyOfAFieldWinsAndUnknownFieldsOfAnyShapeAreSkipped()
    {
        var raw = Valid.Replace("\"type\": \"asp-call\",",
            "\"type\": \"asp-call\", \"dial_id\": \"first\", \"extra\": {\"dial_id\": \"nested\", \"list\": [1, {\"a\": null}]}, \"note\": \"" + new string('x', 2000) + "\",");
        var r = JobParser.Parse(raw);
        Assert.That(r.Cause, Is.Null, "a job over 1 KiB is read as well");
        Assert.That(r.Job!.DialId, Is.EqualTo("talkiq_dial_id"));
    }

    [Test]
    public void NumbersMadeOfDigitsAreTakenAsText()
    {
        var r = JobParser.Parse(Valid.Replace("\"1415697098\"", "1415697098"));
        Assert.That(r.Job!.CalleeNumber, Is.EqualTo("1415697098"));
        Assert.That(JobParser.Parse(Valid.Replace("\"1415697098\"", "1.5e3")).Cause, Is.EqualTo("invalid callee_number"));
    }

    public static IEnumerable<string> FieldNames =>
        ["call_provider", "callee_number", "caller_id_lega", "caller_id_legb", "caller_number", "dial_id", "org_id", "user_id"];

    [TestCaseSource(nameof(FieldNames))]
    public void EachMissingField(string field)
    {
        var raw = Without(field);
        var r = JobParser.Parse(raw);
        Assert.That(r.Cause, Is.EqualTo($"missing {field}"));
    }

    [TestCaseSource(nameof(FieldNames))]
    public void NewlineAndEslCommandInEveryField(string field)
    {
        var r = JobParser.Parse(With(field, "15105625882\\n\\nbgapi originate loopback/1/phones &park"));
        Assert.That(r.Cause, Is.EqualTo($"invalid {field}"));
        Assert.That(r.Job, Is.Null);
    }

    [TestCase("callee_number", "12")]
    [TestCase("callee_number", "123456789012345678901")]
    [TestCase("callee_number", "1415 697098")]
    [TestCase("callee_number", "1415,697098")]
    [TestCase("callee_number", "a@b@c")]
    [TestCase("callee_number", "us'er@host")]
    [TestCase("caller_id_lega", "777|777")]
    [TestCase("caller_id_legb", "123456789012345678901234567890123")]
    [TestCase("dial_id", "a.b")]
    [TestCase("org_id", "{x}")]
    [TestCase("user_id", "")]
    [TestCase("call_provider", "gw^1")]
    [TestCase("call_provider", "gw\\\\x")]
    public void SpecSixRules(string field, string value)
    {
        Assert.That(JobParser.Parse(With(field, value)).Cause, Is.EqualTo($"invalid {field}"));
    }

    [TestCase("callee_number", "+14156970980")]
    [TestCase("callee_number", "alice@sip.example.com:5060")]
    [TestCase("caller_id_lega", "777-777-7777")]
    [TestCase("call_provider", "gw.example")]
    [TestCase("dial_id", "abc:DEF_1-2")]
    public void AcceptedValues(string field, string value) =>
        Assert.That(JobParser.Parse(With(field, value)).Cause, Is.Null);

    [Test]
    public void InvalidDialIdIsNotReported()
    {
        var r = JobParser.Parse(With("dial_id", "bad.id"));
        Assert.That(r.DialId, Is.Null);
    }

    [Test]
    public void CreatedAtExpiry()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_000_000);
        var old = JobParser.Parse(Valid.Replace("\"type\"", "\"created_at\": 999000, \"type\"")).Job!;
        var fresh = JobParser.Parse(Valid.Replace("\"type\"", "\"created_at\": 999990.5, \"type\"")).Job!;
        Assert.That(JobParser.IsExpired(old, 120, now), Is.True);
        Assert.That(JobParser.IsExpired(fresh, 120, now), Is.False);
        Assert.That(JobParser.Parse(Valid.Replace("\"type\"", "\"created_at\": \"soon\", \"type\"")).Cause, Is.EqualTo("invalid created_at"));
    }

    [Test]
    public void PublishedJsonMatchesTheOriginalFormat()
    {
        Assert.That(Json.CallStart("d1"), Is.EqualTo("{\"type\": \"call-start\", \"dial_id\": \"d1\"}"));
        Assert.That(Json.Answer(0), Is.EqualTo("{\"type\": \"answer-event\", \"side\": \"0\"}"));
        Assert.That(Json.Hangup(1, "USER_BUSY"), Is.EqualTo("{\"type\": \"hangup-event\", \"side\": \"1\", \"cause\": \"USER_BUSY\"}"));
        Assert.That(Json.JobFailure("expired"), Is.EqualTo("{\"type\": \"failure\", \"cause\": \"expired\"}"));
        Assert.That(Json.Ack("barge", "\"x1\""), Is.EqualTo("{\"type\": \"ack\", \"event\": \"barge\", \"id\": \"x1\"}"));
        Assert.That(Json.ControlFailure("mute", "no barge leg", null), Is.EqualTo("{\"type\": \"failure\", \"event\": \"mute\", \"cause\": \"no barge leg\"}"));
        Assert.That(Json.Str("a\"b\\c\nü"), Is.EqualTo("\"a\\\"b\\\\c\\n\\u00fc\""));
    }

    [Test]
    public void DialStringsFollowSpecSeven()
    {
        var o = RedswitchOptions.Parse(new Dictionary<string, string?> { ["RING_TIMEOUT"] = "30" }, out _);
        var d = new DialStrings(o.Dial);
        var job = JobParser.Parse(Valid).Job!;
        var a = d.OriginateCaller(job, "A-UUID", "127.0.0.1:8084");
        Assert.That(a, Is.EqualTo("originate {origination_uuid=A-UUID,dial_id=talkiq_dial_id,call-side=0,org_id=talkiq_org_id,user_id=talkiq_user_id,loopback_bowout=false," +
                                  "origination_caller_id_number=15105625882,ignore_early_media=true,originate_timeout=30,hangup_after_bridge=true," +
                                  "ringback=%(2000\\,4000\\,440\\,480)}sofia/gateway/talk_call_provider/15105625882 &socket('127.0.0.1:8084 async full')"));
        Assert.That(d.BridgeCallee(job, "B-UUID"), Is.EqualTo("{origination_uuid=B-UUID,dial_id=talkiq_dial_id,call-side=1,org_id=talkiq_org_id,user_id=talkiq_user_id,loopback_bowout=false," +
                                                              "origination_caller_id_number=14157697098,leg_timeout=30}sofia/gateway/talk_call_provider/1415697098"));
        Assert.That(d.OriginateBarger(job, "G", "bob@sip.example", "777-777-7777", "A-UUID"),
            Does.EndWith("origination_caller_id_number=777-777-7777,ignore_early_media=true,originate_timeout=30,leg_timeout=30}sofia/external/bob@sip.example &eavesdrop(A-UUID)"));
    }

    private static string Without(string field) =>
        string.Join("\n", Valid.Split('\n').Where(l => !l.Contains($"\"{field}\"")));

    private static string With(string field, string value) =>
        string.Join("\n", Valid.Split('\n').Select(l => l.Contains($"\"{field}\"") ? $"  \"{field}\": \"{value}\"," : l));
}
