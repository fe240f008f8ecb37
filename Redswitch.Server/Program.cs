using Redswitch.Server;
using Redswitch.Server.Cli;

// No arguments = serve; anything else is an operator's verb (SPEC §10, §11).
return args.Length == 0 ? await Serve.RunAsync() : await Cli.RunAsync(args);
