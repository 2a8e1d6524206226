# ecl_add_workflows(<target> FILES a.ecl ... [CODE a.c ...] [STATIC])
#
# Compiles the workflows of the .ecl files into <target>: at build time eclc writes
# NAME.ecl.c for each a.ecl, and the registry ecl_workflows.ecl.c (the table `ecl_workflows`,
# `ecl_nworkflows` that runtime/ecl.h declares), into <build dir>/ecl_<target>/; it runs again
# whenever one of the .ecl files changes. The generated C and the CODE files (the C functions
# of the workflows' code steps) are added to <target>, which is linked with libecl (the
# shared library; STATIC: libecl.a). A program then has ecl's whole command line for its own
# workflows with `return ecl_main(argc, argv, ecl_workflows, ecl_nworkflows);`.
#
# find_package(ecl) defines it against an installed ecl; a project that builds ecl with
# add_subdirectory gets it from there, with eclc and libecl built in the same tree.
function(ecl_add_workflows target)
  cmake_parse_arguments(PARSE_ARGV 1 ECL "STATIC" "" "FILES;CODE")
  if(ECL_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ecl_add_workflows(${target}): unexpected arguments "
                        "`${ECL_UNPARSED_ARGUMENTS}` (FILES a.ecl ... [CODE a.c ...] [STATIC])")
  endif()
  if(NOT ECL_FILES)
    message(FATAL_ERROR "ecl_add_workflows(${target}): no .ecl file given after FILES")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "ecl_add_workflows(${target}): no such target; define it first "
                        "(add_executable(${target} main.c))")
  endif()
  get_property(eclc GLOBAL PROPERTY ECL_ECLC_TARGET)
  if(ECL_STATIC)
    get_property(lib GLOBAL PROPERTY ECL_STATIC_LIBRARY_TARGET)
  else()
    get_property(lib GLOBAL PROPERTY ECL_LIBRARY_TARGET)
  endif()

  set(dir ${CMAKE_CURRENT_BINARY_DIR}/ecl_${target})
  set(registry ${dir}/ecl_workflows.ecl.c)
  set(outputs ${registry})
  set(sources)
  set(bases)
  foreach(f IN LISTS ECL_FILES)
    get_filename_component(abs ${f} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    get_filename_component(base ${f} NAME_WLE)
    if(base IN_LIST bases)
      message(FATAL_ERROR "ecl_add_workflows(${target}): two files named ${base}.ecl would "
                          "both be compiled to ${base}.ecl.c")
    endif()
    list(APPEND bases ${base})
    list(APPEND sources ${abs})
    list(APPEND outputs ${dir}/${base}.ecl.c)
  endforeach()
  # Run in the source directory with the paths as given: a workflow records the file it
  # comes from (ecl list --detailed), relative to the project.
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${eclc} --out-dir ${dir} --registry ${registry} ${ECL_FILES}
    DEPENDS ${sources} ${eclc}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    COMMENT "eclc ${ECL_FILES}"
    VERBATIM)
  target_sources(${target} PRIVATE ${outputs} ${ECL_CODE})
  target_link_libraries(${target} PRIVATE ${lib})
endfunction()
