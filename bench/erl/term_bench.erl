%% The BEAM baseline for bench/term.ts: times term_to_binary and binary_to_term on the same
%% terms the TypeScript side builds (cases/0 must stay in step with `buildCases` in term.ts).
%%
%% bench/term.ts starts `erl -noshell`, compiles this file in memory and calls serve/0, then
%% asks for one sample at a time, interleaved with samples of the JS codecs on the same case, so
%% that all three see the same machine load. Commands on stdin, one per line:
%%   sizes                       -> SIZE <case> <encoded_bytes> <md5 of the encoding>, then END
%%   run <case> <metric> <ms>    -> RESULT <case> <metric> <calls> <cpu_ms> <wall_us>
%%   quit                        -> halts
%% A sample runs batches of calls (each about a millisecond) until <ms> of CPU time have passed,
%% as statistics(runtime) counts it: the CPU time of the whole emulator, as process.cpuUsage()
%% counts Node's. CPU time, not wall time, because the bench machine is shared: time spent
%% waiting for a core is not the codec's. Encodings use minor_version 2 (UTF-8 atoms), the form
%% the distribution wire uses.
-module(term_bench).
-export([serve/0, cases/0]).

-define(OPTS, [{minor_version, 2}]).

serve() ->
    Cases = cases(),
    serve(Cases, maps:from_list([{atom_to_list(N), {T, term_to_binary(T, ?OPTS)}} || {N, T} <- Cases])).

serve(Cases, Encoded) ->
    case command(io:get_line("")) of
        ["sizes"] ->
            [io:format("SIZE ~s ~b ~s~n", [N, byte_size(B), binary:encode_hex(erlang:md5(B))])
             || {N, _} <- Cases, {_, B} <- [maps:get(atom_to_list(N), Encoded)]],
            io:format("END~n");
        ["run", Name, Metric, Ms] ->
            {Term, Bin} = maps:get(Name, Encoded),
            Run = case Metric of
                "encode" -> fun(N) -> encode_loop(Term, N, 0) end;
                "decode" -> fun(N) -> decode_loop(Bin, N, undefined) end
            end,
            {Calls, CpuMs, WallUs} = sample(Run, list_to_integer(Ms)),
            io:format("RESULT ~s ~s ~b ~b ~b~n", [Name, Metric, Calls, CpuMs, WallUs]);
        _ ->
            halt(0)
    end,
    serve(Cases, Encoded).

%% `quit` and the end of input both stop the node.
command(eof) -> ["quit"];
command(Line) -> string:lexemes(string:trim(Line), " ").

cases() ->
    [{'small-msg', {msg, 42, <<"payload">>}},
     {tuple10, {ok, 42, -7, 3.14, <<"abc">>, [1, 2, 3], hello, 100000, {a, b}, []}},
     {map10, #{id => 1, name => <<"Alice">>, age => 30, email => <<"alice@example.com">>,
               active => true, score => 9.5, tags => [admin, user], created => 1700000000,
               ticket => {ticket, 7}, meta => #{}}},
     {list200, [mixed(I) || I <- lists:seq(1, 200)]},
     {bin64k, << <<(I rem 256)>> || I <- lists:seq(0, 65535) >>},
     {nested1m, [record(I) || I <- lists:seq(1, 2900)]}].

mixed(I) ->
    case I rem 5 of
        0 -> I;
        1 -> item;
        2 -> <<"bin">>;
        3 -> {I, x};
        4 -> I + 0.5
    end.

record(I) ->
    #{id => I,
      name => <<"item-", (integer_to_binary(I))/binary>>,
      pos => {I, -I, I * 1.5 + 0.25},
      tags => [alpha, beta, gamma],
      payload => binary:copy(<<(I rem 256)>>, 200),
      children => [{leaf, I, <<"x">>}, {leaf, I + 1, <<"y">>}]}.

%% The byte count is summed so the compiler cannot drop the call.
encode_loop(_Term, 0, Acc) -> Acc;
encode_loop(Term, N, Acc) -> encode_loop(Term, N - 1, Acc + byte_size(term_to_binary(Term, ?OPTS))).

%% The last decoded term is carried along for the same reason.
decode_loop(_Bin, 0, Last) -> Last;
decode_loop(Bin, N, _Last) -> decode_loop(Bin, N - 1, binary_to_term(Bin)).

%% One sample: {Calls, CpuMs, WallUs} of batches of Run(N) (which makes N calls) until at least
%% TimeMs of CPU time have passed. Batches are sized to take about a millisecond, so reading the
%% clocks costs nothing measurable.
sample(Run, TimeMs) ->
    Batch = calibrate(Run, 1),
    {Cpu0, _} = statistics(runtime),
    W0 = erlang:monotonic_time(microsecond),
    sample(Run, Batch, Cpu0, Cpu0 + TimeMs, W0, 0).

sample(Run, Batch, Cpu0, Deadline, W0, Calls) ->
    _ = Run(Batch),
    {Cpu, _} = statistics(runtime),
    if Cpu >= Deadline -> {Calls + Batch, Cpu - Cpu0, erlang:monotonic_time(microsecond) - W0};
       true -> sample(Run, Batch, Cpu0, Deadline, W0, Calls + Batch)
    end.

calibrate(Run, N) ->
    T0 = erlang:monotonic_time(),
    _ = Run(N),
    Elapsed = erlang:convert_time_unit(erlang:monotonic_time() - T0, native, microsecond),
    if Elapsed >= 1000 orelse N >= 1 bsl 24 -> N;
       true -> calibrate(Run, N * 2)
    end.
