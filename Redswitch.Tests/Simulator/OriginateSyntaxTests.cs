using Redswitch.Protocol.Messages;
using Redswitch.Simulator;
using Redswitch.Simulator.Dial;

namespace Redswitch.Tests.Simulator;

[TestFixture]
public class DialStringUnitTests
{
    [Test]
    public void GlobalAndPerLegVariablesEscapesAndNumbers()
    {
        var d = DialString.Parse(@"{a=1,list=x\,y,eq=k=v}[b=2]sofia/gateway/gw1/15551234@host,[c=3]user/1001|loopback/1002/phones");
        Assert.That(d.Groups, Has.Count.EqualTo(2));
        var first = d.Groups[0][0];
        Assert.That(first.Number, Is.EqualTo("15551234"));
        Assert.That(first.Gateway, Is.EqualTo("gw1"));
        Assert.That(first.Var("a"), Is.EqualTo("1"));
        Assert.That(first.Var("list"), Is.EqualTo("x,y"));
        Assert.That(first.Var("eq"), Is.EqualTo("k=v"));
        Assert.That(first.Var("b"), Is.EqualTo("2"));
        Assert.That(d.Groups[0][1].Var("c"), Is.EqualTo("3"));
        Assert.That(d.Groups[0][1].Var("b"), Is.Null);
        Assert.That(d.Groups[1][0].Number, Is.EqualTo("1002"));
    }

    [Test]
    public void DelimiterChangeAndItemsWithoutEquals()
    {
        var vars = DialString.ParseVarList("^^:codecs=PCMU,PCMA:ignore=true:junk");
        Assert.That(vars, Is.EqualTo(new[] { new KeyValuePair<string, string>("codecs", "PCMU,PCMA"), new("ignore", "true") }));
    }

    [Test]
    public void OuterSplitRemovesSingleQuotesAndKeepsBackslashComma()
    {
        var t = ArgSplitter.SplitBlank(@"{n='José Müller',l=a\,b}user/1 &socket('127.0.0.1:8084 async full')  XML");
        Assert.That(t, Is.EqualTo(new[] { @"{n=José Müller,l=a\,b}user/1", "&socket(127.0.0.1:8084 async full)", "XML" }));
        Assert.That(ArgSplitter.SplitBlank(@"a\sb c\td"), Is.EqualTo(new[] { "a b", "c\td" }));
    }

    [Test]
    public void UnquotedSocketLosesItsMode()
    {
        var o = OriginateArgs.Parse("user/1 &socket(127.0.0.1:8084 async full)")!;
        Assert.That(o.AppName, Is.EqualTo("socket"));
        Assert.That(o.AppArgs, Is.EqualTo("127.0.0.1:8084"));
        Assert.That(o.Dialplan, Is.EqualTo("async"));
        Assert.That(o.Context, Is.EqualTo("full)"));
    }

    [TestCase("")]
    [TestCase("user/1")]
    [TestCase("user/1 1000 XML default name num 30 extra")]
    public void WrongTokenCountIsUsage(string args) => Assert.That(OriginateArgs.Parse(args), Is.Null);

    [Test]
    public void ExtensionFormWithDefaultsAndUndef()
    {
        var o = OriginateArgs.Parse("user/1 1000 undef undef Alice 555 15")!;
        Assert.That((o.Exten, o.Dialplan, o.Context, o.CidName, o.CidNumber, o.TimeoutSeconds),
            Is.EqualTo(("1000", "XML", "default", "Alice", "555", 15)));
    }
}

[TestFixture, CancelAfter(30000)]
public class OriginateSyntaxTests : SimTestBase
{
    protected override void Configure(SimulatorOptions o)
    {
        o.AnswerDelay = TimeSpan.FromMilliseconds(20);
        o.Gateways = new HashSet<string> { "allowed" };
    }

    [Test]
    public async Task BadSyntaxAnswersTheUsageText()
    {
        await using var c = await ConnectAsync();
        Assert.That(await c.ApiAsync("originate"), Is.EqualTo(OriginateArgs.Usage));
        Assert.That(await c.ApiAsync("originate user/1"), Is.EqualTo(
            "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"));
    }

    [Test]
    public async Task UnknownEndpointTypeIsChanNotImplementedAndDialsNothing()
    {
        await using var c = await ConnectAsync();
        Assert.That(await c.ApiAsync("originate foo/bar &park"), Is.EqualTo("-ERR CHAN_NOT_IMPLEMENTED\n"));
        Assert.That(await c.ApiAsync("status"), Does.Contain("\n0 session(s) since startup\n"));
    }

    [Test]
    public async Task GatewaysOptionRestrictsGatewayNames()
    {
        await using var c = await ConnectAsync();
        Assert.That(await c.ApiAsync("originate sofia/gateway/other/15550000100 &park"), Is.EqualTo("-ERR NO_ROUTE_DESTINATION\n"));
        Assert.That(await c.ApiAsync("originate sofia/gateway/allowed/15550000100 &park"), Does.StartWith("+OK "));
        Assert.That(await c.ApiAsync("originate sofia/external/15550000100@host &park"), Does.StartWith("+OK "));
        Assert.That(await c.ApiAsync("status"), Does.Contain("\n2 session(s) since startup\n"));
    }

    [Test]
    public async Task VariablesQuotesEscapesAndCallerIdReachTheChannel()
    {
        await using var c = await ConnectAsync();
        var u = NewUuid();
        var r = await c.ApiAsync($@"originate {{origination_uuid={u},origination_caller_id_name='José Müller',origination_caller_id_number=1000,list=a\,b}}[leg=x]user/15550000100 &park()");
        Assert.That(r, Is.EqualTo($"+OK {u}\n"));
        Assert.That(await c.ApiAsync($"uuid_getvar {u} origination_caller_id_name"), Is.EqualTo("José Müller"));
        Assert.That(await c.ApiAsync($"uuid_getvar {u} list"), Is.EqualTo("a,b"));
        Assert.That(await c.ApiAsync($"uuid_getvar {u} leg"), Is.EqualTo("x"));
        Assert.That(await c.ApiAsync($"uuid_getvar {u} nothing"), Is.EqualTo("_undef_"));
        Assert.That(await c.ApiAsync($"uuid_setvar {u} eslv hello world"), Is.EqualTo("+OK\n"));
        Assert.That(await c.ApiAsync($"uuid_getvar {u} eslv"), Is.EqualTo("hello world"));
    }

    [Test]
    public async Task ExtensionFormOriginatesAndStaysUp()
    {
        await using var c = await ConnectAsync();
        var u = NewUuid();
        Assert.That(await c.ApiAsync($"originate {{origination_uuid={u}}}loopback/15550000100/phones 1000 XML default"), Is.EqualTo($"+OK {u}\n"));
        Assert.That(await c.ApiAsync($"uuid_exists {u}"), Is.EqualTo("true"));
        // a loopback call has two halves, the -b one running the phone's extension (as FreeSWITCH shows them)
        Assert.That(await c.ApiAsync("show channels count"), Is.EqualTo("\n2 total.\n"));
        Assert.That(await c.ApiAsync("show channels"), Does.StartWith("uuid,direction,").And.Contain(u)
            .And.Contain("loopback/15550000100-a").And.Contain("loopback/15550000100-b").And.EndWith("\n2 total.\n"));
        Assert.That(await c.ApiAsync("hupall"), Is.EqualTo("+OK hangup all channels with cause NORMAL_CLEARING\n"));
        for (var i = 0; i < 100 && await c.ApiAsync("show channels count") != "\n0 total.\n"; i++) await Task.Delay(20);
        Assert.That(await c.ApiAsync("show channels count"), Is.EqualTo("\n0 total.\n"));
    }

    [Test]
    public async Task FailoverGroupTriesTheNextGroup()
    {
        await using var c = await ConnectAsync();
        var r = await c.ApiAsync("originate user/15550000486|user/15550000100 &park()");
        Assert.That(r, Does.StartWith("+OK "));
    }

    [Test]
    public async Task QuotedSocketKeepsAsyncFullUnquotedRunsStaticSingleChannel()
    {
        await using var server = new OutboundTestServer();
        await using var c = await ConnectAsync();
        Assert.That(await c.ApiAsync($"originate user/15550000100 '&socket(127.0.0.1:{server.Port} async full)'"), Does.StartWith("+OK"));
        await using (var o = await server.AcceptAsync())
        {
            var reply = await o.CommandAsync("connect");
            Assert.That((reply.SocketMode, reply.Control), Is.EqualTo(("async", "full")));
        }
        Assert.That(await c.ApiAsync($"originate user/15550000100 &socket(127.0.0.1:{server.Port} async full)"), Does.StartWith("+OK"));
        await using var o2 = await server.AcceptAsync();
        var r2 = await o2.CommandAsync("connect");
        Assert.That((r2.SocketMode, r2.Control), Is.EqualTo(("static", "single-channel")));
    }
}
